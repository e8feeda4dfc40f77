import { createHash } from "crypto";

/** Docker tags allow `[A-Za-z0-9_.-]`, at most 128 characters, not starting with `.` or `-`. */
export function tagSafe(value: string, max = 64): string {
    const s = value
        .toLowerCase()
        .replace(/[^a-z0-9_.-]+/g, "-")
        .replace(/^[.-]+/, "")
        .replace(/-+$/, "");
    return (s || "x").slice(0, max);
}

/**
 * The slug used in a branch's cache ref. It must be injective: two branches
 * never share a cache ref (a pull request must never write main's, and
 * `feature/x` must not overwrite `Feature-X`'s). A branch that is already a
 * tag-safe slug keeps its name; any other (rewritten, shortened, or itself
 * ending like a hashed slug) gets `-<8 hex of sha256(branch)>` appended.
 * `fallbackBranches` is unused and kept for callers.
 */
export function branchSlug(branch: string, _fallbackBranches: readonly string[] = []): string {
    const slug = tagSafe(branch, 48);
    if (slug === branch && !/-[0-9a-f]{8}$/.test(branch)) {
        return slug;
    }
    return `${slug}-${createHash("sha256").update(branch).digest("hex").slice(0, 8)}`;
}

/** `-<variant>` or nothing for the default variant. */
export function variantSuffix(variant: string): string {
    return variant === "" ? "" : `-${variant}`;
}

export interface TagNames {
    /** The immutable tag: SHA plus variant. */
    readonly immutable: string;
    /** Moving and release tags, published as aliases of the immutable index. */
    readonly aliases: readonly string[];
}

export function tagNames(sha: string, variant: string, environment: string, release?: string): TagNames {
    const suffix = variantSuffix(variant);
    const aliases: string[] = [];
    if (environment !== "") {
        aliases.push(`${tagSafe(environment, 40)}${suffix}`);
    }
    if (release) {
        aliases.push(`v${release}${suffix}`);
    }
    return { immutable: `${sha.slice(0, 12).toLowerCase()}${suffix}`, aliases };
}

/**
 * The tag of one per-platform build: `build-<inputs12>[-variant]-<arch>`,
 * where `<inputs12>` is the start of `buildInputsDigest`. It names what was
 * built, not when, so a commit that changes none of a build's inputs declares
 * exactly the same `Image`, and every per-platform manifest an index
 * references keeps a tag of its own (no lifecycle rule sees it as untagged).
 */
export function platformTag(inputsDigest: string, variant: string, arch: string): string {
    // The plan check passes a placeholder instead of a digest: keep it whole.
    const inputs = /^[0-9a-f]+$/.test(inputsDigest) ? inputsDigest.slice(0, 12) : inputsDigest;
    return `build-${inputs}${variantSuffix(variant)}-${arch}`;
}

/**
 * The tag of an image's multi-platform index: `index-<12 hex>[-variant]`,
 * a hash of its platforms' digests. It names what the index holds, so the
 * index is pushed again only when a build changes; the commit's tags point
 * at it.
 */
export function indexTag(platformDigests: readonly string[], variant: string): string {
    const hash = createHash("sha256").update([...platformDigests].sort().join("\n")).digest("hex");
    return `index-${hash.slice(0, 12)}${variantSuffix(variant)}`;
}

/**
 * The variants an image is built in: every variant of the family, except for
 * images that opt out (`variants: false`; dev-env images by default, whose
 * toolchain does not depend on a build profile).
 */
export function variantsOf(spec: { readonly kind: string; readonly variants?: boolean }, variantNames: readonly string[]): string[] {
    return (spec.variants ?? spec.kind !== "dev-env") && variantNames.length > 0 ? [...variantNames] : [""];
}

/** Everything that decides what a per-platform build produces. */
export interface BuildInputs {
    /** `StagedContext.digest`: the admitted files, normalized modes, and the Dockerfile. */
    readonly context: string;
    readonly target?: string;
    readonly buildArgs: Readonly<Record<string, string>>;
    readonly platform: string;
    readonly variant: string;
    /** Named context → `docker-image://repo@sha256:…` or a staged local directory's digest. */
    readonly named: Readonly<Record<string, string>>;
}

/** sha256 (hex) over a build's inputs, independent of key order. */
export function buildInputsDigest(inputs: BuildInputs): string {
    const sorted = (m: Readonly<Record<string, string>>) => Object.keys(m).sort().map((k) => [k, m[k]]);
    const canonical = JSON.stringify([
        "imagefleet/build-inputs/v1", inputs.context, inputs.target ?? "", sorted(inputs.buildArgs),
        inputs.platform, inputs.variant, sorted(inputs.named),
    ]);
    return createHash("sha256").update(canonical).digest("hex");
}

/** The cache ref tag of one branch, variant and platform. */
export function cacheTag(branchSlugValue: string, variant: string, arch: string): string {
    return `${branchSlugValue}${variantSuffix(variant)}-${arch}`;
}

export const SEMVER = /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-[0-9A-Za-z.-]+)?$/;
export const NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/;
export const SHA = /^[0-9a-fA-F]{7,64}$/;
