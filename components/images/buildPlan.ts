import { createHash } from "crypto";
import { dependenciesOf } from "./graph";
import { Platform } from "./platforms";
import { variantSuffix } from "./policy";
import { ContextStager } from "./stager";
import { StagedContext } from "./stage";
import { ImageSpec } from "./types";

/** A named context of a planned build: another image's build (by key) or a staged directory. */
export type PlannedDep =
    | { readonly context: string; readonly image: string }
    | { readonly context: string; readonly local: StagedContext };

/** One image of one variant, as ImageFamily will declare it. */
export interface PlannedImage {
    /** The image's spec. Required. */
    readonly spec: ImageSpec;
    /** Variant name, `""` for the default variant. Required. */
    readonly variant: string;
    /** `image[-variant]`: resource names and output keys. Required. */
    readonly key: string;
    /** The platforms it is built for. Required. */
    readonly platforms: readonly Platform[];
    /** Its staged context and Dockerfile. Required. */
    readonly staged: StagedContext;
    /** Merged build args, SOURCE_DATE_EPOCH first. Required. */
    readonly buildArgs: Readonly<Record<string, string>>;
    /** Its named contexts. Required (may be empty). */
    readonly deps: readonly PlannedDep[];
    /**
     * Per platform, a digest of everything known before anything is built that
     * decides the build: its own inputs and, recursively, its dependencies'.
     * It changes when, and only when, the build will run. Required.
     */
    readonly fingerprints: Readonly<Partial<Record<Platform, string>>>;
}

export interface PlanOptions {
    /** Images in build order. */
    readonly order: readonly ImageSpec[];
    readonly familyPlatforms: readonly Platform[];
    /** Variants per image (ImageFamily's `variantsOf`). */
    readonly variantsOf: (spec: ImageSpec) => string[];
    readonly variants: Readonly<Record<string, Readonly<Record<string, string>>>>;
    readonly familyBuildArgs: Readonly<Record<string, string>>;
    readonly sourceDateEpoch: number;
    readonly stager: ContextStager;
    /** Whatever else every build's inputs carry (cache refs, push): part of each fingerprint. */
    readonly shared: unknown;
}

const sha256 = (value: unknown) => createHash("sha256").update(JSON.stringify(value)).digest("hex");

/** Every image of every variant, in build order, with its staged context and fingerprints. */
export function planImages(o: PlanOptions): PlannedImage[] {
    const planned = new Map<string, PlannedImage>();
    for (const spec of o.order) {
        const staged = o.stager.image(spec);
        for (const variant of o.variantsOf(spec)) {
            const buildArgs = {
                SOURCE_DATE_EPOCH: String(o.sourceDateEpoch),
                ...o.familyBuildArgs, ...spec.buildArgs, ...(variant ? o.variants[variant] : {}),
            };
            const deps: PlannedDep[] = dependenciesOf(spec).map((dep) => {
                if (dep.local !== undefined) {
                    return { context: dep.context, local: o.stager.local(dep.local) };
                }
                const depSpec = o.order.find((s) => s.name === dep.image)!;
                const depVariant = o.variantsOf(depSpec).includes(variant) ? variant : "";
                return { context: dep.context, image: `${dep.image}${variantSuffix(depVariant)}` };
            });
            const platforms = spec.platforms ?? o.familyPlatforms;
            const fingerprints = Object.fromEntries(platforms.map((platform) => [platform, sha256([
                spec.name, spec.kind, variant, platform, staged.digest, spec.target ?? "", buildArgs, o.shared,
                deps.map((d) => ("local" in d ? [d.context, d.local.digest] : [d.context, planned.get(d.image)!.fingerprints[platform]])),
            ])]));
            const key = `${spec.name}${variantSuffix(variant)}`;
            planned.set(key, { spec, variant, key, platforms, staged, buildArgs, deps, fingerprints });
        }
    }
    return [...planned.values()];
}
