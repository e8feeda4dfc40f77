import { strict as assert } from "assert";
import { branchSlug, cacheTag, tagNames, tagSafe } from "../../components/images/policy";
import { dependenciesOf, topoOrder } from "../../components/images/graph";

describe("tag and cache policy", () => {
    it("slugs branch names into valid tag characters", () => {
        assert.equal(tagSafe("feature/Add-ARM64 builds"), "feature-add-arm64-builds");
        assert.equal(tagSafe("--x"), "x");
        assert.equal(tagSafe("a".repeat(200)).length, 64);
    });

    it("keeps a tag-safe branch name as its slug and hashes any other", () => {
        assert.equal(branchSlug("main", ["main"]), "main");
        assert.equal(branchSlug("feature-x.2"), "feature-x.2");
        assert.match(branchSlug("release/1.x", ["main", "release/1.x"]), /^release-1\.x-[0-9a-f]{8}$/);
        // A name that already looks hashed is hashed again, so no plain name equals a hashed slug.
        assert.match(branchSlug("feature-x-0123abcd"), /^feature-x-0123abcd-[0-9a-f]{8}$/);
    });

    it("never gives two branches the same slug, even all-non-Latin ones", () => {
        const names = ["Ветка", "分支", "ブランチ", "x", "X", "feature/x", "feature-x", "feature_x", "a".repeat(60), "a".repeat(61)];
        const slugs = names.map((n) => branchSlug(n));
        assert.equal(new Set(slugs).size, names.length, slugs.join(" "));
        assert.ok(slugs.every((s) => /^[a-z0-9_][a-z0-9_.-]{0,56}$/.test(s)), slugs.join(" "));
    });

    it("never lets another branch's slug equal a fallback branch's", () => {
        const slug = branchSlug("Main", ["main"]);
        assert.notEqual(slug, "main");
        assert.match(slug, /^main-[0-9a-f]{8}$/);
        assert.notEqual(branchSlug("main/", ["main"]), "main");
        assert.equal(branchSlug("feature-x", ["main"]), "feature-x");
    });

    it("derives the immutable tag from the SHA and the variant", () => {
        const t = tagNames("ABCDEF0123456789", "", "dev");
        assert.equal(t.immutable, "abcdef012345");
        assert.deepEqual(t.aliases, ["dev"]);
        const v = tagNames("abcdef0123456789", "perf", "staging", "1.2.0");
        assert.equal(v.immutable, "abcdef012345-perf");
        assert.deepEqual(v.aliases, ["staging-perf", "v1.2.0-perf"]);
    });

    it("names one cache ref per branch, variant and arch", () => {
        assert.equal(cacheTag("main", "", "arm64"), "main-arm64");
        assert.equal(cacheTag("feature-x", "failpoints", "amd64"), "feature-x-failpoints-amd64");
    });
});

describe("image graph", () => {
    it("normalises list and map forms of from", () => {
        assert.deepEqual(dependenciesOf({ name: "r", kind: "runtime", context: ".", from: ["a"] }), [{ context: "a", image: "a" }]);
        assert.deepEqual(
            dependenciesOf({ name: "r", kind: "runtime", context: ".", from: { bin: "a", dist: { local: "./dist" }, x: { image: "b" } } }),
            [{ context: "bin", image: "a" }, { context: "dist", local: "./dist" }, { context: "x", image: "b" }],
        );
    });

    it("orders images after the images they take from", () => {
        const r = topoOrder([
            { name: "runtime", kind: "runtime", context: ".", from: ["artifact"] },
            { name: "artifact", kind: "artifact", context: ".", from: ["dev-env"] },
            { name: "dev-env", kind: "dev-env", context: "." },
        ]);
        assert.deepEqual(r, { order: ["dev-env", "artifact", "runtime"] });
    });

    it("reports a cycle as a path", () => {
        const r = topoOrder([
            { name: "a", kind: "artifact", context: ".", from: ["b"] },
            { name: "b", kind: "artifact", context: ".", from: ["c"] },
            { name: "c", kind: "artifact", context: ".", from: ["a"] },
        ]);
        assert.deepEqual(r, { cycle: ["a", "b", "c", "a"] });
    });
});
