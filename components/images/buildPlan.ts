import { createHash } from "crypto";
import { dependenciesOf, Dependency } from "./graph";
import { Platform } from "./platforms";
import { variantSuffix } from "./policy";
import { ContextStager, RefusedBuild, StagedBuild } from "./contexts/stager";
import { StagedContext } from "./contexts/stage";
import { ImageSpec } from "./types";

/** A named context of a planned build: another image's build (by key) or a local directory, staged per platform. */
export type PlannedDep =
    | { readonly context: string; readonly image: string }
    | { readonly context: string; readonly local: Readonly<Partial<Record<Platform, StagedContext>>> };

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
    /** Per platform, its staged context (the files the build reads) and Dockerfile. Required. */
    readonly staged: Readonly<Partial<Record<Platform, StagedContext>>>;
    /** Per platform, BuildKit's Dockerfile checks of the build. Required. */
    readonly lint: Readonly<Partial<Record<Platform, StagedBuild["lint"]>>>;
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
    /**
     * Per platform, the part of the fingerprint that decides the image's
     * content: the same without the settings every build shares (cache refs,
     * push). A build whose fingerprint changes and whose content does not
     * gives the same digest, and nothing built from it changes. Required.
     */
    readonly contents: Readonly<Partial<Record<Platform, string>>>;
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

/** Every image of every variant, in build order, and the builds BuildKit's frontend refused. */
export interface Plan {
    readonly images: PlannedImage[];
    readonly refused: RefusedBuild[];
}

/** Every image of every variant, in build order, with its staged contexts and fingerprints. */
export function planImages(o: PlanOptions): Plan {
    interface Draft { spec: ImageSpec; variant: string; key: string; platforms: readonly Platform[]; buildArgs: Record<string, string>; deps: readonly Dependency[] }
    const drafts: Draft[] = [];
    for (const spec of o.order) {
        for (const variant of o.variantsOf(spec)) {
            drafts.push({
                spec, variant, key: `${spec.name}${variantSuffix(variant)}`,
                platforms: spec.platforms ?? o.familyPlatforms,
                buildArgs: { SOURCE_DATE_EPOCH: String(o.sourceDateEpoch), ...o.familyBuildArgs, ...spec.buildArgs, ...(variant ? o.variants[variant] : {}) },
                deps: dependenciesOf(spec),
            });
        }
    }
    const requestKey = (d: Draft, p: Platform) => `${d.key} ${p}`;
    const { staged, refused } = o.stager.stageBuilds(drafts.flatMap((d) => d.platforms.map((platform) => ({
        key: requestKey(d, platform), spec: d.spec, platform, buildArgs: d.buildArgs,
        named: Object.fromEntries(d.deps.map((dep) => [dep.context, dep.local !== undefined ? { local: dep.local } : { image: dep.image! }])),
    }))));
    if (refused.length > 0) {
        return { images: [], refused };
    }

    const planned = new Map<string, PlannedImage>();
    for (const d of drafts) {
        const builds = Object.fromEntries(d.platforms.map((p) => [p, staged.get(requestKey(d, p))!])) as Partial<Record<Platform, StagedBuild>>;
        const deps: PlannedDep[] = d.deps.map((dep) => {
            if (dep.local !== undefined) {
                return { context: dep.context, local: Object.fromEntries(d.platforms.map((p) => [p, builds[p]!.named[dep.context]])) };
            }
            const depSpec = o.order.find((s) => s.name === dep.image)!;
            const depVariant = o.variantsOf(depSpec).includes(d.variant) ? d.variant : "";
            return { context: dep.context, image: `${dep.image}${variantSuffix(depVariant)}` };
        });
        const fingerprints = Object.fromEntries(d.platforms.map((platform) => [platform, sha256([
            d.spec.name, d.spec.kind, d.variant, platform, builds[platform]!.context.digest, d.spec.target ?? "", d.buildArgs, o.shared,
            deps.map((dep) => ("local" in dep ? [dep.context, dep.local[platform]!.digest] : [dep.context, planned.get(dep.image)!.fingerprints[platform]])),
        ])]));
        const contents = Object.fromEntries(d.platforms.map((platform) => [platform, sha256([
            d.spec.name, d.spec.kind, d.variant, platform, builds[platform]!.context.digest, d.spec.target ?? "", d.buildArgs,
            deps.map((dep) => ("local" in dep ? [dep.context, dep.local[platform]!.digest] : [dep.context, planned.get(dep.image)!.contents[platform]])),
        ])]));
        planned.set(d.key, {
            spec: d.spec, variant: d.variant, key: d.key, platforms: d.platforms, buildArgs: d.buildArgs, deps, fingerprints, contents,
            staged: Object.fromEntries(d.platforms.map((p) => [p, builds[p]!.context])),
            lint: Object.fromEntries(d.platforms.map((p) => [p, builds[p]!.lint])),
        });
    }
    return { images: [...planned.values()], refused: [] };
}
