import * as pulumi from "@pulumi/pulumi";
import * as dockerbuild from "@pulumi/docker-build";
import { tagSafe } from "../images/policy";
import { ImageSpec } from "../images/types";
import { SourceVerification } from "../supplychain";
import { parseRef } from "./stackRefs";
import type { PromotedImage, PromotionArgs } from "./types";
import { validatePromotion } from "./validate";

/** `repo@sha256:…` of a checked `repo:tag@sha256:…` ref: what a promotion copies (a tag can move, a digest cannot). */
function pinnedRef(ref: string): string {
    const p = parseRef(ref)!;
    return `${p.repository}@${p.digest}`;
}

/** The key a family exports an image under: `image` or `image-variant`. */
export const promotedKey = (p: PromotedImage): string => (p.variant ? `${p.image}-${p.variant}` : p.image);

/**
 * The images (and variants) a family built, the way ImageFamily decides it:
 * variants apply to every image except dev-env images unless the image says
 * otherwise. A promotion-only stack uses this to know what to promote without
 * declaring a build.
 */
export function promotedImages(images: readonly ImageSpec[], variantNames: readonly string[] = []): PromotedImage[] {
    return images.flatMap((spec) => {
        const variants = (spec.variants ?? spec.kind !== "dev-env") && variantNames.length > 0 ? variantNames : [""];
        return variants.map((variant) => ({ image: spec.name, variant }));
    });
}

export { validatePromotion };

/**
 * Publishes images another stack built under this stack's tags, without
 * building: for each image, a docker-build `Index` copies the source's
 * multi-platform index (pinned by digest) to the target repository under the
 * same immutable SHA tag; the environment and release tags are aliases of that
 * copy. An index from a single index source is a carbon copy, so the digest
 * that staging tested is the digest prod runs.
 */
export class Promotion extends pulumi.ComponentResource {
    /** The promoted ref (`repo:tag@sha256:…`) per image key. */
    public readonly refs: pulumi.Output<Record<string, string>>;
    /** The source ref each image was promoted from, per image key. */
    public readonly sources: pulumi.Output<Record<string, string>>;
    /** The index under the immutable tag, per image key. */
    public readonly indexes: Readonly<Record<string, dockerbuild.Index>>;

    constructor(name: string, args: PromotionArgs, opts?: pulumi.ComponentResourceOptions) {
        validatePromotion(name, args);
        super("imagefleet:delivery:Promotion", name, {}, opts);

        const environment = args.environment ?? pulumi.getStack();
        const from = args.sourceName ?? "the source";
        const registry = args.registry?.password === undefined
            ? undefined
            : { address: args.registry.address, username: args.registry.username, password: pulumi.secret(args.registry.password) };
        const sourceMap = pulumi.output(args.sources);
        const childOpts: pulumi.CustomResourceOptions = { parent: this, retainOnDelete: args.retainOnDelete ?? true };

        const indexes: Record<string, dockerbuild.Index> = {};
        const sources: Record<string, pulumi.Output<string>> = {};
        const checked: Record<string, pulumi.Output<string>> = {};
        for (const img of args.images) {
            const key = promotedKey(img);
            // Checked when the refs arrive: a missing image fails the update with the source and the image named.
            checked[key] = sourceMap.apply((refs) => {
                const ref = refs?.[key];
                if (typeof ref !== "string" || !parseRef(ref)?.tag) {
                    const have = Object.keys(refs ?? {}).sort().join(", ") || "(none)";
                    throw new Error(`Promotion ${JSON.stringify(name)}: ${from} has no ref with a tag and a sha256 digest for image ${JSON.stringify(key)} (got ${JSON.stringify(ref)}); it has: ${have}`);
                }
                return ref;
            });
        }
        // Verification first: every index takes its source from the verified digests and depends on the check.
        const verification = args.verify === undefined ? undefined : new SourceVerification(`${name}-verify`, {
            refs: checked,
            verifying: args.verify.key,
            policy: args.verify.policy,
            registry: registry === undefined ? undefined : pulumi.output(registry),
            sourceName: from,
            attested: args.verify.attested,
            builderKeys: args.verify.builderKeys,
            waitSeconds: args.verify.waitSeconds,
        }, { parent: this });
        const indexOpts = verification ? { ...childOpts, dependsOn: [verification] } : childOpts;
        for (const img of args.images) {
            const key = promotedKey(img);
            const suffix = img.variant ? `-${img.variant}` : "";
            const source = checked[key];
            // Copied by digest (`repo@sha256:…`), never by tag: the source's tag may move after the
            // verification (or be moved by whoever can push to the source repository), its digest cannot.
            const pinned = (verification ? verification.refs.apply((refs) => refs[key]) : source).apply(pinnedRef);
            const repository = pulumi.output(args.repositories[img.image]);
            // Keep staging's immutable tag (the SHA) so both stacks name the digest alike.
            const tag = source.apply((ref) => parseRef(ref)!.tag);
            const index = new dockerbuild.Index(`${name}-${key}`, {
                tag: pulumi.interpolate`${repository}:${tag}`,
                sources: [pinned],
                push: true,
                registry,
            }, indexOpts);
            const aliases = [
                ...(environment !== "" ? [{ suffix: "env", tag: `${tagSafe(environment, 40)}${suffix}` }] : []),
                ...(args.release ? [{ suffix: "release", tag: `v${args.release}${suffix}` }] : []),
            ];
            for (const alias of aliases) {
                new dockerbuild.Index(`${name}-${key}-${alias.suffix}`, {
                    tag: pulumi.interpolate`${repository}:${alias.tag}`,
                    sources: [index.ref],
                    push: true,
                    registry,
                }, indexOpts);
            }
            indexes[key] = index;
            sources[key] = source;
        }

        this.indexes = indexes;
        this.refs = pulumi.output(Object.fromEntries(Object.entries(indexes).map(([k, i]) => [k, i.ref])));
        this.sources = pulumi.output(sources);
        this.registerOutputs({ refs: this.refs, sources: this.sources });
    }
}
