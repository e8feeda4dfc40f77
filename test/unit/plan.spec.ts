import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as os from "os";
import * as fc from "fast-check";
import { issueLine } from "../../components/errors";
import { planIssues } from "../../components/images/plan";
import { branchSlug, cacheTag } from "../../components/images/policy";
import { branchProblem, registryAddressProblem, releaseProblem } from "../../components/images/schema";
import { familyIssues } from "../../components/images/validate";
import { builds, declareFamily, familyArgs, fixtureImages, plain, runStack, SHA } from "./helpers";

const lines = (args: ReturnType<typeof familyArgs>, stack = "dev") => familyIssues(args, { stack }).map((i) => issueLine(i));

describe("branch names and cache refs", () => {
    it("refuses exactly the branch names `git check-ref-format --branch` refuses (real git, random names)", () => {
        // Run outside a repository, so git does not expand "@" or "@{-1}" to the current branch.
        const cwd = os.tmpdir();
        const alphabet = fc.constantFrom(..."ab-./_@{}~^:?*[\\ \t\u00e9\u4e2dZ0.lock".split(""));
        const name = fc.oneof(
            fc.string({ unit: alphabet, minLength: 1, maxLength: 12 }),
            fc.constantFrom("feature/x", "a.lock/b", "HEAD", "-x", "a//b", "a/", ".a", "a.", "a..b", "a@{b", "@", "x/.y", "Ветка", "分支"),
        );
        let refused = 0;
        // git takes a lone "@" as HEAD's shorthand and prints a branch; as a branch name it is refused (check-ref-format rule 9).
        assert.match(branchProblem("@")!, /reserved/);
        fc.assert(fc.property(name, (n) => {
            fc.pre(n !== "@");
            const git = spawnSync("git", ["check-ref-format", "--branch", n], { cwd, encoding: "utf8" }).status === 0;
            assert.equal(branchProblem(n) === undefined, git, `${JSON.stringify(n)}: git says ${git ? "valid" : "invalid"}, we say ${branchProblem(n) ?? "valid"}`);
            refused += git ? 0 : 1;
        }), { numRuns: 200 });
        assert.ok(refused > 20, `only ${refused} of 200 names were invalid: the generator does not reach git's rules`);
    });

    it("maps two different branches to two different cache refs (injective slug, random names)", () => {
        const branch = fc.string({ unit: fc.constantFrom(..."aA-_./x\u00e9\u4e2d\u0416".split("")), minLength: 1, maxLength: 60 });
        fc.assert(fc.property(branch, branch, (a, b) => {
            fc.pre(a !== b);
            assert.notEqual(branchSlug(a), branchSlug(b), `${JSON.stringify(a)} and ${JSON.stringify(b)}`);
            assert.match(branchSlug(a), /^[a-z0-9_][a-z0-9_.-]{0,56}$/);
        }), { numRuns: 2000 });
        // All-non-Latin branches no longer collapse to one cache ref.
        assert.notEqual(cacheTag(branchSlug("Ветка"), "", "amd64"), cacheTag(branchSlug("分支"), "", "amd64"));
    });

    it("builds a non-Latin branch with its own cache ref, and refuses a branch git forbids before declaring anything", async () => {
        const { resources } = await declareFamily(familyArgs({ git: { branch: "功能/缓存", sha: SHA } }));
        const written = builds(resources).map((b) => plain(b).cacheTo[0].registry.ref.split(":").pop());
        assert.ok(written.every((t: string) => new RegExp(`^${branchSlug("功能/缓存")}-(amd64|arm64)$`).test(t)), written.join(" "));
        assert.match(lines(familyArgs({ git: { branch: "feature x", sha: SHA } })).join("\n"), /git\.branch: "feature x" is not a branch name git allows: it contains a space/);
    });
});

describe("the plan's tags", () => {
    it("accepts the example plan: no tag pushed twice", () => {
        assert.deepEqual(planIssues(familyArgs({ variants: { perf: { P: "perf" }, release: { P: "release" } }, tags: { release: "1.0.0" } }), { stack: "dev" }), []);
    });

    it("refuses an environment alias that is also a release alias", () => {
        const found = lines(familyArgs({ variants: { x: { P: "x" } }, tags: { environment: "v1.2.3", release: "1.2.3" } }));
        assert.ok(found.some((l) => /the environment alias of "artifact-x" and the release alias of "artifact-x" both push tag "v1\.2\.3-x"/.test(l)), found.join("\n"));
    });

    it("refuses a tag longer than a registry takes", () => {
        const long = "v".repeat(63);
        // 57 (hashed slug) + 1 + 63 (variant) + 1 + 7 (riscv64) = 129.
        const found = lines(familyArgs({ git: { branch: "b".repeat(60), sha: SHA }, variants: { [long]: { P: "1" } }, platforms: ["linux/riscv64"], builders: { "linux/riscv64": "b" } }));
        assert.ok(found.some((l) => /would be tagged .*, 129 characters; tags hold at most 128/.test(l)), found.join("\n"));
    });

    it("refuses an image whose repository is another image's cache", () => {
        const images = [...fixtureImages, { ...fixtureImages[0], name: "runtime-cache" }];
        assert.match(lines(familyArgs({ images })).join("\n"), /images\[3\]\.name: image "runtime-cache"'s repository is "registry\.test\/team\/runtime-cache", which is already image "runtime"'s cache repository/);
    });

    it("checks plain values only: repositories given as Outputs count as distinct", async () => {
        const pulumi = await import("@pulumi/pulumi");
        const args = familyArgs({ registry: { address: pulumi.output("r"), repositories: Object.fromEntries(fixtureImages.map((i) => [i.name, pulumi.output(i.name)])) } });
        assert.deepEqual(planIssues(args, { stack: "dev" }), []);
    });
});

describe("values checked by reason", () => {
    it("registry addresses: host[:port] only", () => {
        for (const ok of ["registry.localhost:5000", "123456789012.dkr.ecr.eu-west-1.amazonaws.com", "ghcr.io", "10.0.0.1:443", "[::1]:5000", "localhost"]) {
            assert.equal(registryAddressProblem(ok), undefined, ok);
        }
        assert.match(registryAddressProblem("https://x")!, /has a scheme/);
        assert.match(registryAddressProblem("host:5000/extra/")!, /has a path \("\/extra\/"\)/);
        assert.match(registryAddressProblem("host:99999")!, /port "99999", which is not a TCP port/);
        assert.match(registryAddressProblem("host:0")!, /not a TCP port/);
        assert.match(registryAddressProblem("not a host!!")!, /is not a host name or IP address/);
        assert.match(registryAddressProblem("-bad.example.com")!, /is not a host name/);
    });

    it("releases: semver, build metadata refused with the reason and what to use instead", () => {
        assert.equal(releaseProblem("1.4.0-rc.1"), undefined);
        assert.match(releaseProblem("1.2.3+build.5")!, /use "1\.2\.3", or the pre-release "1\.2\.3-build\.5"/);
        assert.match(releaseProblem("1.2.3-rc.1+b7")!, /the pre-release "1\.2\.3-rc\.1\.b7"/);
        assert.match(releaseProblem("01.2.3")!, /is not a semver version/);
    });
});

describe("per-image platforms from stack config", () => {
    it("accepts imagefleet:images[].platforms and builds those platforms only", async () => {
        const images = fixtureImages.map((i) => (i.name === "runtime" ? { ...i, platforms: ["linux/arm64"] } : i));
        const { resources } = await runStack("local", [`imagefleet:images=${JSON.stringify(images)}`]);
        const runtime = builds(resources).filter((b) => plain(b).labels["dev.imagefleet.image"] === "runtime");
        assert.deepEqual(runtime.map((b) => plain(b).platforms[0]), ["linux/arm64"]);
    });
});
