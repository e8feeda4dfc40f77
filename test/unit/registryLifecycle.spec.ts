import { strict as assert } from "assert";
import { branchSlug } from "../../components/images/policy";
import { cacheRepositoryRules, imageRepositoryRules, KEEP_COUNT, LifecycleRule, policyDocument } from "../../components/registry/lifecycle";

// A small model of how ECR evaluates a lifecycle policy, from AWS's
// "Lifecycle policy properties" and "How lifecycle policies work":
// - tagPatternList / tagPrefixList: EVERY entry must match at least one of the
//   image's tags (AND across the list, ANY across the image's tags); a pattern
//   matches the whole tag, `*` standing for any run of characters.
// - an image that matches the tagging requirements of a rule cannot be expired
//   by a rule of lower priority (higher rulePriority number);
// - a rule still counts images that a higher-priority rule claimed;
// - imageCountMoreThan keeps the newest N (by push time), sinceImagePushed
//   expires images pushed more than N days ago.
interface Img {
    readonly tags: readonly string[];
    readonly pushedDaysAgo: number;
}

function globMatches(pattern: string, tag: string): boolean {
    const re = new RegExp(`^${pattern.split("*").map((s) => s.replace(/[.+?^${}()|[\]\\]/g, "\\$&")).join(".*")}$`);
    return re.test(tag);
}

function matchesTagging(rule: LifecycleRule, img: Img): boolean {
    const s = rule.selection;
    switch (s.tagStatus) {
        case "untagged":
            return img.tags.length === 0;
        case "any":
            return true;
        case "tagged":
            if (img.tags.length === 0) {
                return false;
            }
            if (s.tagPatternList) {
                return s.tagPatternList.every((p) => img.tags.some((t) => globMatches(p, t)));
            }
            return (s.tagPrefixList ?? []).every((p) => img.tags.some((t) => t.startsWith(p)));
    }
}

function expiredBy(rules: readonly LifecycleRule[], images: readonly Img[]): Map<Img, number> {
    const byPriority = [...rules].sort((a, b) => a.rulePriority - b.rulePriority);
    const claim = new Map(images.map((img) => [img, byPriority.find((r) => matchesTagging(r, img))]));
    const expired = new Map<Img, number>();
    for (const rule of byPriority) {
        const selected = images.filter((img) => matchesTagging(rule, img)).sort((a, b) => a.pushedDaysAgo - b.pushedDaysAgo);
        const s = rule.selection;
        const candidates = s.countType === "imageCountMoreThan" ? selected.slice(s.countNumber) : selected.filter((i) => i.pushedDaysAgo > s.countNumber);
        candidates.filter((img) => claim.get(img) === rule).forEach((img) => expired.set(img, rule.rulePriority));
    }
    return expired;
}

const RELEASE_TAGS = ["v1.2.3", "v10.0.0-rc.1", "v1.2.3-perf"];
const SHA_TAGS = ["0123456789ab", "abcdef012345", "abcdef012345-perf"];
const isKeep = (r: LifecycleRule) => r.selection.countType === "imageCountMoreThan" && r.selection.countNumber >= KEEP_COUNT;

function checkDocumentedConstraints(rules: readonly LifecycleRule[]): void {
    const priorities = rules.map((r) => r.rulePriority);
    assert.equal(new Set(priorities).size, priorities.length, "rulePriority values are unique");
    assert.ok(rules.filter((r) => r.selection.tagStatus === "untagged").length <= 1, "only one rule may select untagged images");
    const any = rules.filter((r) => r.selection.tagStatus === "any");
    assert.ok(any.every((r) => r.rulePriority === Math.max(...priorities)), "an `any` rule must have the highest rulePriority");
    for (const r of rules) {
        const s = r.selection;
        const lists = [s.tagPatternList, s.tagPrefixList].filter(Boolean);
        assert.equal(lists.length, s.tagStatus === "tagged" ? 1 : 0, `${r.description}: tagged needs exactly one list, others none`);
        assert.ok((s.tagPatternList ?? []).every((p) => (p.match(/\*/g) ?? []).length <= 4), "at most four wildcards per pattern");
        assert.equal(s.countUnit !== undefined, s.countType === "sinceImagePushed", "countUnit goes with sinceImagePushed only");
        assert.ok(Number.isInteger(s.countNumber) && s.countNumber >= 1);
        assert.deepEqual(r.action, { type: "expire" });
    }
}

describe("ECR lifecycle rules", () => {
    it("the matcher follows ECR's documented semantics: whole-tag globs, AND across a list, priority claims", () => {
        const rule = (rulePriority: number, tagPatternList: string[], countNumber: number): LifecycleRule => ({
            rulePriority, description: "", action: { type: "expire" },
            selection: { tagStatus: "tagged", tagPatternList, countType: "sinceImagePushed", countUnit: "days", countNumber },
        });
        const prod = { tags: ["prod1"], pushedDaysAgo: 30 };
        const both = { tags: ["main-amd64", "feature-amd64"], pushedDaysAgo: 30 };
        const feature = { tags: ["feature-amd64"], pushedDaysAgo: 30 };
        assert.ok(globMatches("prod*", "prod") && globMatches("prod*", "prod1") && !globMatches("prod", "prod1") && !globMatches("v*", "dev"));
        // A list is AND, not a set of alternatives: only the image carrying both tags is selected.
        assert.deepEqual([...expiredBy([rule(1, ["main-*", "feature-*"], 1)], [prod, both, feature]).keys()], [both]);
        // A higher-priority rule that never expires still protects what it matches.
        const keepMain: LifecycleRule = { ...rule(1, ["main-*"], KEEP_COUNT), selection: { tagStatus: "tagged", tagPatternList: ["main-*"], countType: "imageCountMoreThan", countNumber: KEEP_COUNT } };
        assert.deepEqual([...expiredBy([keepMain, rule(2, ["*-amd64"], 1)], [both, feature]).keys()], [feature]);
    });

    it("image repositories: no rule at all by default, so no tagged or untagged image ever expires", () => {
        assert.deepEqual(imageRepositoryRules(), []);
    });

    it("image repositories: opt-in untagged expiry selects only images without any tag", () => {
        const rules = imageRepositoryRules({ untaggedExpiryDays: 30 });
        checkDocumentedConstraints(rules);
        assert.deepEqual(rules.map((r) => r.selection.tagStatus), ["untagged"]);
        const tagged = [...RELEASE_TAGS, ...SHA_TAGS, "0123456789ab-amd64", "prod", "staging-perf"].map((t) => ({ tags: [t], pushedDaysAgo: 5000 }));
        const orphan = { tags: [], pushedDaysAgo: 31 };
        const fresh = { tags: [], pushedDaysAgo: 2 };
        assert.deepEqual([...expiredBy(rules, [...tagged, orphan, fresh]).keys()], [orphan]);
    });

    it("image repositories: a per-platform manifest a kept index references keeps its own build-* tag, so no rule expires it", () => {
        // What ImageFamily pushes over many commits: each build under
        // build-<inputs12>[-variant]-<arch>, each commit's index under <sha12>,
        // aliases under the environment and release. Builds whose inputs did not
        // change are shared by later indexes and are never re-pushed untagged.
        const builds = ["build-0123456789ab-amd64", "build-0123456789ab-arm64", "build-abcdef012345-perf-arm64"];
        for (const rules of [imageRepositoryRules(), imageRepositoryRules({ untaggedExpiryDays: 1 })]) {
            const repo = [...builds, ...SHA_TAGS, ...RELEASE_TAGS, "prod", "staging-perf"].map((t) => ({ tags: [t], pushedDaysAgo: 9000 }));
            assert.deepEqual([...expiredBy(rules, repo).keys()], []);
        }
    });

    const RELEASE_SLUG = branchSlug("release/1.x");
    const cacheRules = cacheRepositoryRules({ keepBranches: ["main", "release/1.x"], archs: ["amd64", "arm64"], staleAfterDays: 14, untaggedExpiryDays: 1 });

    it("cache repositories: valid by ECR's documented constraints, one rule per pattern", () => {
        checkDocumentedConstraints(cacheRules);
        assert.deepEqual(cacheRules.filter(isKeep).map((r) => r.selection.tagPatternList), [["v*.*.*"], ["main-*"], [`${RELEASE_SLUG}-*`]]);
        assert.deepEqual(cacheRules.filter((r) => !isKeep(r)).map((r) => r.selection.tagPatternList ?? "untagged"), ["untagged", ["*-amd64"], ["*-arm64"]]);
        assert.deepEqual(JSON.parse(policyDocument(cacheRules)), { rules: JSON.parse(JSON.stringify(cacheRules)) });
    });

    it("no expiring rule's tagging requirement matches a release or SHA tag", () => {
        for (const rules of [cacheRules, imageRepositoryRules({ untaggedExpiryDays: 1 })]) {
            for (const rule of rules.filter((r) => !isKeep(r))) {
                for (const tag of [...RELEASE_TAGS, ...SHA_TAGS]) {
                    assert.equal(matchesTagging(rule, { tags: [tag], pushedDaysAgo: 0 }), false, `${rule.description} matches ${tag}`);
                }
            }
        }
    });

    it("cache repositories: stale branch caches and superseded caches expire; main's, release and SHA tags never do", () => {
        const img = (tags: string[], pushedDaysAgo: number) => ({ tags, pushedDaysAgo });
        const keep = [
            img(["main-amd64"], 400), img(["main-perf-arm64"], 400), img([`${RELEASE_SLUG}-arm64`], 90),
            img(["feature-x-amd64"], 3), // a branch still building
            ...[...RELEASE_TAGS, ...SHA_TAGS].map((t) => img([t], 5000)),
            img(["feature-y-amd64", "v2.0.0"], 400), // an image that also carries a release tag
            img([], 0), // just superseded
        ];
        const expire = [img(["feature-y-amd64"], 15), img(["old-branch-perf-arm64"], 200), img([], 2), img(["very-old-amd64"], 30)];
        const expired = expiredBy(cacheRules, [...keep, ...expire]);
        assert.deepEqual(keep.filter((i) => expired.has(i)), [], "kept images expired");
        assert.deepEqual(expire.filter((i) => !expired.has(i)), [], "stale caches kept");
    });
});
