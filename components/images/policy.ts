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

/** The cache ref tag of one branch, variant and platform. */
export function cacheTag(branchSlugValue: string, variant: string, arch: string): string {
    return `${branchSlugValue}${variantSuffix(variant)}-${arch}`;
}

export const SEMVER = /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-[0-9A-Za-z.-]+)?$/;
export const NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/;
export const SHA = /^[0-9a-fA-F]{7,64}$/;
