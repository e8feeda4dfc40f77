// The tag and alias policy of content-stable builds: per-platform Images are
// named by their inputs, commits by their indexes.
import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { exampleFamily } from "../../example/family";
import { BuildInputs, buildInputsDigest, platformTag } from "../../components/images/policy";
import { Recorded } from "../../scripts/harness/mocks";
import { builds, declareFamily, familyArgs, fixtureImages, indexes, plain, runStack } from "./helpers";

const SHA_A = "a".repeat(40);
const SHA_B = "b".repeat(40);

const byName = (rs: Recorded[]) => new Map(rs.map((r) => [r.name, plain(r)]));

describe("content-stable builds: tags and aliases", () => {
    const inputs: BuildInputs = {
        context: "c".repeat(64), target: "build", buildArgs: { A: "1", B: "2" }, platform: "linux/arm64", variant: "",
        named: { "dev-env": "docker-image://r/dev-env@sha256:" + "d".repeat(64) },
    };

    it("names a per-platform build build-<inputs12>[-variant]-<arch>", () => {
        assert.equal(platformTag("0123456789abcdef", "", "amd64"), "build-0123456789ab-amd64");
        assert.equal(platformTag("0123456789abcdef", "perf", "arm64"), "build-0123456789ab-perf-arm64");
    });

    it("derives the inputs digest from every input and from nothing else (key order included)", () => {
        const base = buildInputsDigest(inputs);
        assert.equal(buildInputsDigest({ ...inputs, buildArgs: { B: "2", A: "1" } }), base);
        const changes: Partial<BuildInputs>[] = [
            { context: "e".repeat(64) }, { target: undefined }, { buildArgs: { A: "1", B: "3" } }, { buildArgs: { A: "1" } },
            { platform: "linux/amd64" }, { variant: "perf" }, { named: { "dev-env": "docker-image://r/dev-env@sha256:" + "f".repeat(64) } },
            { named: {} },
        ];
        for (const change of changes) {
            assert.notEqual(buildInputsDigest({ ...inputs, ...change }), base, JSON.stringify(change));
        }
    });

    it("declares every Image and Index identically for two commits; only the commit's tags in the TagSet move", async () => {
        const a = await runStack("local", [`imagefleet:gitSha=${SHA_A}`]);
        const b = await runStack("local", [`imagefleet:gitSha=${SHA_B}`]);
        const [ia, ib] = [byName(builds(a.resources)), byName(builds(b.resources))];
        assert.equal(ia.size, 6);
        for (const [name, inputs] of ia) {
            assert.deepEqual(ib.get(name), inputs, `${name} differs between commits`);
            assert.doesNotMatch(JSON.stringify(inputs), /aaaaaaaaaaaa|bbbbbbbbbbbb/, `${name} carries the commit`);
        }
        const [xa, xb] = [byName(indexes(a.resources)), byName(indexes(b.resources))];
        assert.equal(xa.size, 3);
        for (const [name, inputs] of xa) {
            assert.deepEqual(xb.get(name), inputs, `${name}: the index of unchanged builds is the same resource`);
        }
        const tagsOf = (e: typeof a) => plain(e.resources.find((r) => r.type === "pulumi-nodejs:dynamic/images:TagSet")!).tags as Record<string, string>;
        const [ta, tb] = [tagsOf(a), tagsOf(b)];
        const index = (xb.get("example-runtime")!.tag as string).replace(/:index-[0-9a-f]{12}$/, "");
        assert.equal(ta["registry.localhost:5000/imagefleet/runtime:aaaaaaaaaaaa"], tb["registry.localhost:5000/imagefleet/runtime:bbbbbbbbbbbb"]);
        assert.ok(tb["registry.localhost:5000/imagefleet/runtime:bbbbbbbbbbbb"].startsWith(`${index}@sha256:`));
        assert.equal(ta["registry.localhost:5000/imagefleet/runtime:local"], tb["registry.localhost:5000/imagefleet/runtime:local"], "the environment alias stays put");
    });

    it("keeps the refs output's shape: repo:<sha12>@sha256:<index digest>", async () => {
        const { outputs } = await runStack("local", [`imagefleet:gitSha=${SHA_B}`]);
        const refs = await new Promise<Record<string, string>>((resolve) => outputs.refs.apply(resolve));
        for (const image of ["dev-env", "artifact", "runtime"]) {
            assert.match(refs[image], new RegExp(`^registry\\.localhost:5000/imagefleet/${image}:bbbbbbbbbbbb@sha256:[0-9a-f]{64}$`));
        }
    });

    it("changes a build's tag when an input changes, and its dependents' through their named context", async () => {
        const family = (devEnvArgs: Record<string, string>) => familyArgs({
            images: fixtureImages.map((i) => (i.name === "dev-env" ? { ...i, buildArgs: devEnvArgs } : i)),
        });
        const a = byName(builds((await declareFamily(family({ GCC: "12" }))).resources));
        const b = byName(builds((await declareFamily(family({ GCC: "13" }))).resources));
        const c = byName(builds((await declareFamily(family({ GCC: "12" }))).resources));
        for (const name of a.keys()) {
            assert.notEqual(b.get(name).tags[0], a.get(name).tags[0], `${name} kept its tag though dev-env changed`);
            assert.equal(c.get(name).tags[0], a.get(name).tags[0], `${name} is not a function of its inputs`);
        }
    });

    it("a change to the artifact's sources leaves the dev-env's Images alone (its ignore file admits nothing)", async () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "imagefleet-example-"));
        try {
            fs.cpSync(path.join(__dirname, "..", "..", "example"), dir, { recursive: true });
            const declare = async () => byName(builds((await declareFamily(familyArgs({ images: exampleFamily({ context: dir }) }))).resources));
            const before = await declare();
            fs.appendFileSync(path.join(dir, "src", "main.c"), "/* a change */\n");
            const after = await declare();
            for (const name of ["fam-dev-env-amd64", "fam-dev-env-arm64"]) {
                assert.deepEqual(after.get(name), before.get(name), `${name} changed`);
            }
            for (const name of ["fam-artifact-amd64", "fam-runtime-arm64"]) {
                assert.notDeepEqual(after.get(name), before.get(name), `${name} did not change`);
            }
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });

    it("keys each platform's builder check on its builds: unchanged by a commit, changed by a build on that platform only", async () => {
        const checks = (rs: Recorded[]) => new Map(rs.filter((r) => r.type.endsWith(":BuilderCheck")).map((r) => [r.name, plain(r)]));
        const a = checks((await runStack("local", [`imagefleet:gitSha=${SHA_A}`])).resources);
        const b = checks((await runStack("local", [`imagefleet:gitSha=${SHA_B}`])).resources);
        assert.deepEqual([...a.keys()].sort(), ["example-builder-amd64", "example-builder-arm64"]);
        assert.deepEqual(b, a, "a commit that builds nothing changed a builder check");
        assert.equal(a.get("example-builder-arm64").builder, "imagefleet-local-arm64");
        // An amd64-only image changes: only the amd64 builder is asked.
        const family = (arg: string) => familyArgs({
            images: fixtureImages.map((i) => (i.name === "runtime" ? { ...i, platforms: ["linux/amd64" as const], buildArgs: { X: arg } } : i)),
        });
        const one = await declareFamily(family("1"));
        const two = await declareFamily(family("2"));
        const [c1, c2] = [checks(one.resources), checks(two.resources)];
        assert.notEqual(c2.get("fam-builder-amd64").fingerprint, c1.get("fam-builder-amd64").fingerprint);
        assert.equal(c2.get("fam-builder-arm64").fingerprint, c1.get("fam-builder-arm64").fingerprint);
        // And every build waits for its platform's check.
        for (const r of builds(two.resources)) {
            assert.deepEqual(r.options.dependsOn, [`fam-builder-${r.name.split("-").pop()}`], `${r.name} does not wait for its builder check`);
        }
    });

    it("carries no per-commit label or build arg; SOURCE_DATE_EPOCH is fixed", async () => {
        const { resources } = await runStack("local", [`imagefleet:gitSha=${SHA_A}`]);
        for (const r of builds(resources)) {
            const i = plain(r);
            assert.equal(i.labels["org.opencontainers.image.revision"], undefined);
            assert.equal(i.buildArgs.SOURCE_DATE_EPOCH, "0");
            assert.deepEqual(i.exports, [{ raw: "type=registry,rewrite-timestamp=true" }]);
        }
    });
});
