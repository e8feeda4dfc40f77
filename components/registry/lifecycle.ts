import { branchSlug } from "../images/policy";

/**
 * ECR lifecycle rules as ECR reads them (the JSON of a lifecycle policy).
 *
 * The ECR semantics these rules are written against (AWS, "Lifecycle policy
 * properties" and "How lifecycle policies work"):
 * - `tagPatternList` / `tagPrefixList`: an image is selected when EVERY entry
 *   of the list matches at least one of its tags (AND across the list), so a
 *   list is not a set of alternatives; alternatives need one rule each.
 *   A pattern matches a whole tag, `*` standing for any run of characters.
 * - An image that matches the tagging requirements of a rule cannot be expired
 *   by a rule with a lower priority (a higher `rulePriority` number). A rule
 *   that selects a set of tags with a count it never reaches therefore keeps
 *   those images: that is how "keep" is spelled.
 * - Only one rule may select untagged images; `any` must come last.
 */
export interface LifecycleRule {
    readonly rulePriority: number;
    readonly description: string;
    readonly selection: {
        readonly tagStatus: "tagged" | "untagged" | "any";
        readonly tagPatternList?: readonly string[];
        readonly tagPrefixList?: readonly string[];
        readonly countType: "imageCountMoreThan" | "sinceImagePushed";
        readonly countUnit?: "days";
        readonly countNumber: number;
    };
    readonly action: { readonly type: "expire" };
}

/**
 * The count of a keep rule. Keep rules only cover tag sets that stay small
 * (a fallback branch has one cache tag per variant and arch), so this count is
 * never reached and the rule never expires anything itself.
 */
export const KEEP_COUNT = 10000;

const keep = (rulePriority: number, pattern: string, description: string): LifecycleRule => ({
    rulePriority,
    description,
    selection: { tagStatus: "tagged", tagPatternList: [pattern], countType: "imageCountMoreThan", countNumber: KEEP_COUNT },
    action: { type: "expire" },
});

const olderThan = (rulePriority: number, days: number, description: string, pattern?: string): LifecycleRule => ({
    rulePriority,
    description,
    selection: {
        tagStatus: pattern === undefined ? "untagged" : "tagged",
        ...(pattern === undefined ? {} : { tagPatternList: [pattern] }),
        countType: "sinceImagePushed",
        countUnit: "days",
        countNumber: days,
    },
    action: { type: "expire" },
});

export interface ImageRulesOptions {
    /** Expire untagged manifests this many days after their push. Default: undefined (never). */
    readonly untaggedExpiryDays?: number;
}

/**
 * Rules for an image repository. Tagged images (SHA, per-platform, environment
 * and release tags) are never selected by an expiring rule: any SHA may be
 * promoted or rolled back to later, and ECR patterns cannot tell a 12-hex SHA
 * tag from a branch or environment name (`d*` matches `dev`).
 *
 * Untagged expiry is opt-in here: the platform manifests (and attestations)
 * inside a promoted multi-platform index are untagged in the repository it was
 * promoted to, and whether ECR's lifecycle spares manifests that an index
 * still references is not something we could verify.
 */
export function imageRepositoryRules(options: ImageRulesOptions = {}): LifecycleRule[] {
    if (options.untaggedExpiryDays === undefined) {
        return [];
    }
    return [olderThan(10, options.untaggedExpiryDays, `expire untagged images ${options.untaggedExpiryDays} days after push`)];
}

export interface CacheRulesOptions {
    /** Branches whose cache is never expired (the ImageFamily's fallback branches). */
    readonly keepBranches: readonly string[];
    /** Archs of the platforms built; cache tags end in `-<arch>`. */
    readonly archs: readonly string[];
    /** Cache tags of other branches not pushed for this many days expire. */
    readonly staleAfterDays: number;
    /** Cache manifests a newer export untagged expire this many days after their push. */
    readonly untaggedExpiryDays: number;
}

/**
 * Rules for a cache repository, whose tags are `<branch>[-variant]-<arch>`.
 * Every export to a branch's ref untags the previous cache manifest, so
 * untagged images are superseded caches; a branch that stops building (merged,
 * abandoned) leaves tags nobody pushes again, which expire after
 * `staleAfterDays`. Fallback branches are kept by higher-priority rules, and
 * release-shaped tags (`v*.*.*`, narrower than `v*` so a branch named
 * `very-old` still expires) by a guard rule. Expiring rules select
 * `*-<arch>`, which a bare SHA tag (12 hex) or `v1.2.3` can never match.
 */
export function cacheRepositoryRules(options: CacheRulesOptions): LifecycleRule[] {
    const rules: LifecycleRule[] = [keep(1, "v*.*.*", "keep release tags (a guard: they never live in a cache repository)")];
    const slugs = [...new Set(options.keepBranches.map((b) => branchSlug(b, options.keepBranches)))];
    slugs.forEach((slug, i) => rules.push(keep(2 + i, `${slug}-*`, `keep the cache of fallback branch ${slug}`)));
    const base = 100;
    rules.push(olderThan(base, options.untaggedExpiryDays, `expire superseded (untagged) caches ${options.untaggedExpiryDays} days after push`));
    [...new Set(options.archs)].forEach((arch, i) =>
        rules.push(olderThan(base + 1 + i, options.staleAfterDays, `expire ${arch} caches of branches not built for ${options.staleAfterDays} days`, `*-${arch}`)));
    return rules;
}

/** The policy document ECR takes. */
export function policyDocument(rules: readonly LifecycleRule[]): string {
    return JSON.stringify({ rules }, null, 2);
}
