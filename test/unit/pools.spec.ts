// Builder pools (issue 20): which builder of a platform's pool builds what,
// through the real program on stack config (what `npm run synth` evaluates),
// ImageFamily's own arguments, and the hashing underneath.
import { strict as assert } from "assert";
import * as fc from "fast-check";
import * as pulumi from "@pulumi/pulumi";
import { buildKey, pickBuilder } from "../../components/images/pool";
import { ImageSpec } from "../../components/images";
import { Recorded } from "../../scripts/harness/mocks";
import { readStackConfig } from "../../scripts/harness/stackFile";
import { builds, declareFamily, familyArgs, FIXTURE, fixtureImages, plain, rejection, runStack, stackConfigError } from "./helpers";

const CHECK = "pulumi-nodejs:dynamic/builders:BuilderCheck";

/** Ten images: the fixture's dev-env and artifact, and eight runtimes built from the artifact. */
const WIDE: ImageSpec[] = [
    ...fixtureImages.slice(0, 2),
    ...Array.from({ length: 8 }, (_, i) => ({
        name: `svc-${String(i).padStart(2, "0")}`, kind: "runtime" as const, context: FIXTURE, dockerfile: "runtime.Dockerfile", from: ["artifact"],
    })),
];

const pool = (arch: string, n: number) => Array.from({ length: n }, (_, i) => (i === 0 ? `imagefleet-local-${arch}` : `imagefleet-local-${arch}-${i}`));
const poolConfig = (n: number, images: ImageSpec[] = WIDE) => [
    `imagefleet:images=${JSON.stringify(images)}`,
    `imagefleet:builders=${JSON.stringify({ "linux/amd64": pool("amd64", n), "linux/arm64": pool("arm64", n) })}`,
];

/** Image resource name → the builder its inputs name. */
function assignment(resources: Recorded[]): Map<string, string> {
    return new Map(builds(resources).map((r) => [r.name, plain(r).builder.name as string]));
}

describe("builder pools", () => {
    describe("through the program on stack config (synth)", () => {
        it("with 2 builders per platform and 10 images, every builder gets at least one build, each on its own platform's pool", async () => {
            const { resources, outputs } = await runStack("local", poolConfig(2));
            const placed = assignment(resources);
            assert.equal(placed.size, 10 * 2);
            for (const arch of ["amd64", "arm64"]) {
                const mine = [...placed].filter(([name]) => name.endsWith(`-${arch}`));
                const counts = pool(arch, 2).map((b) => mine.filter(([, builder]) => builder === b).length);
                assert.equal(counts.reduce((a, b) => a + b), 10, `every ${arch} build is on the ${arch} pool: ${JSON.stringify(mine)}`);
                assert.ok(counts.every((c) => c >= 1), `${arch}: builds per builder ${counts.join(" / ")}`);
            }
            // The stack output says the same.
            const placement = await new Promise<Record<string, Record<string, string[]>>>((resolve) => outputs.placement.apply(resolve));
            for (const [name, builder] of placed) {
                const [platform, key] = [name.endsWith("-amd64") ? "linux/amd64" : "linux/arm64", name.replace(/^example-/, "").replace(/-(amd64|arm64)$/, "")];
                assert.ok(placement[platform][builder].includes(key), `${name} on ${builder}: ${JSON.stringify(placement)}`);
            }
        });

        it("the same config twice gives the same assignment", async () => {
            const first = assignment((await runStack("local", poolConfig(2))).resources);
            const second = assignment((await runStack("local", poolConfig(2))).resources);
            assert.deepEqual([...second], [...first]);
            // Listing the pool in another order or case changes nothing either.
            const reordered = [
                `imagefleet:images=${JSON.stringify(WIDE)}`,
                `imagefleet:builders=${JSON.stringify({ "linux/amd64": [...pool("amd64", 2)].reverse(), "linux/arm64": [...pool("arm64", 2)].reverse() })}`,
            ];
            assert.deepEqual([...assignment((await runStack("local", reordered)).resources)], [...first]);
        });

        it("with a third builder per platform, every build that moved went to the new builder, and some did", async () => {
            const two = assignment((await runStack("local", poolConfig(2))).resources);
            const three = assignment((await runStack("local", poolConfig(3))).resources);
            const moved = [...three].filter(([name, builder]) => two.get(name) !== builder);
            for (const arch of ["amd64", "arm64"]) {
                const mine = moved.filter(([name]) => name.endsWith(`-${arch}`));
                assert.ok(mine.length > 0, `no ${arch} build moved to the new builder: the test proves nothing`);
                assert.deepEqual(mine.filter(([, b]) => b !== `imagefleet-local-${arch}-2`), [], `moved between builders that both stay: ${JSON.stringify(mine)}`);
            }
            // And back: removing it moves exactly its builds, to where they were.
            const again = assignment((await runStack("local", poolConfig(2))).resources);
            assert.deepEqual([...again], [...two]);
        });

        it("a single name per platform stays valid: every build on it, one check per platform under its pre-pool name", async () => {
            const { resources } = await runStack("local", [`imagefleet:images=${JSON.stringify(WIDE)}`]);
            assert.ok([...assignment(resources)].every(([name, b]) => b === `imagefleet-local-${name.slice(-5)}`));
            assert.deepEqual(resources.filter((r) => r.type === CHECK).map((r) => r.name).sort(), ["example-builder-amd64", "example-builder-arm64"]);
        });

        it("a fleet of two hosts per platform is a pool of two; listing the pool without one host in imagefleet:builders moves only that host's builds", async () => {
            const fleet = JSON.parse(readStackConfig("dev").config["imagefleet:fleet"]);
            const twoHosts = `imagefleet:fleet=${JSON.stringify({ ...fleet, nodes: { "linux/arm64": { instanceType: "c7g.2xlarge", count: 2 }, "linux/amd64": { instanceType: "c7i.2xlarge", count: 2 } } })}`;
            const family = `imagefleet:images=${JSON.stringify(WIDE)}`;
            const all = assignment((await runStack("dev", [twoHosts, family])).resources);
            for (const arch of ["amd64", "arm64"]) {
                assert.deepEqual([...new Set([...all].filter(([n]) => n.endsWith(arch)).map(([, b]) => b))].sort(), [`imagefleet-dev-${arch}`, `imagefleet-dev-${arch}-1`]);
            }
            // Host 1 of amd64 is dead: the pool without it.
            const { resources } = await runStack("dev", [twoHosts, family, `imagefleet:builders=${JSON.stringify({ "linux/amd64": ["imagefleet-dev-amd64"] })}`]);
            const without = assignment(resources);
            const moved = [...without].filter(([n, b]) => all.get(n) !== b);
            assert.ok(moved.length > 0);
            assert.ok(moved.every(([n, b]) => n.endsWith("-amd64") && all.get(n) === "imagefleet-dev-amd64-1" && b === "imagefleet-dev-amd64"), JSON.stringify(moved));
            // Its registration stays (the host is still the fleet's); the family's check for it is gone.
            assert.ok(resources.some((r) => r.type === "pulumi-nodejs:dynamic/builders:BuildxRegistration" && plain(r).builderName === "imagefleet-dev-amd64-1"));
            assert.deepEqual(resources.filter((r) => r.type === CHECK).map((r) => plain(r).builder).sort(),
                ["imagefleet-dev-amd64", "imagefleet-dev-arm64", "imagefleet-dev-arm64-1"]);
        });

        it("refuses a bad pool in stack config before anything is declared, naming the key and the stack", async () => {
            const err = await stackConfigError("local", [
                `imagefleet:builders=${JSON.stringify({ "linux/amd64": ["ci-a", "CI-A"], "linux/arm64": [] })}`,
            ]);
            assert.match(err.message, /stack config \(stack "local"\) is invalid/);
            assert.match(err.message, /imagefleet:builders\["linux\/amd64"\]\[1\]: "CI-A" is already in the pool \(entry 0\); each builder once/);
            assert.match(err.message, /imagefleet:builders\["linux\/arm64"\]: an empty pool has no builder; list at least one name/);
            assert.deepEqual(err.resources, []);
            const badName = await stackConfigError("local", [`imagefleet:builders=${JSON.stringify({ "linux/amd64": ["ci a"], "linux/arm64": "ci-b" })}`]);
            assert.match(badName.message, /imagefleet:builders\["linux\/amd64"\]\[0\]: "ci a" is not a buildx builder name/);
        });
    });

    describe("ImageFamily", () => {
        const twoEach = { "linux/amd64": ["a-1", "a-2"], "linux/arm64": ["r-1", "r-2"] };

        it("gives each builder of a pool one check, waited for by its own builds only", async () => {
            const { resources } = await declareFamily(familyArgs({ images: WIDE, builders: twoEach }));
            const checks = resources.filter((r) => r.type === CHECK);
            assert.deepEqual(checks.map((c) => c.name).sort(), ["fam-builder-amd64-a-1", "fam-builder-amd64-a-2", "fam-builder-arm64-r-1", "fam-builder-arm64-r-2"]);
            for (const img of builds(resources)) {
                const builder = plain(img).builder.name as string;
                const arch = img.name.slice(-5);
                assert.deepEqual(img.options.dependsOn, [`fam-builder-${arch}-${builder}`], img.name);
            }
            for (const check of checks) {
                const c = plain(check);
                const mine = builds(resources).filter((r) => plain(r).builder.name === c.builder).map((r) => r.name).sort();
                assert.deepEqual([...c.builds].sort(), mine, `${check.name} names the builds that wait for it`);
                assert.deepEqual(c.pool, c.platform === "linux/amd64" ? ["a-1", "a-2"] : ["r-1", "r-2"]);
            }
        });

        it("a change to one build runs only its builder's check (the other builder of the pool may stay stopped)", async () => {
            const fingerprints = async (images: ImageSpec[]) => Object.fromEntries((await declareFamily(familyArgs({ images, builders: twoEach }))).resources
                .filter((r) => r.type === CHECK).map((r) => [r.name, plain(r).fingerprint]));
            const before = await fingerprints(WIDE);
            const changed = WIDE.map((s) => (s.name === "svc-03" ? { ...s, buildArgs: { EXTRA: "1" } } : s));
            const after = await fingerprints(changed);
            const owner = (await declareFamily(familyArgs({ images: WIDE, builders: twoEach }))).resources
                .filter((r) => r.type === "docker-build:index:Image" && /svc-03-(amd64|arm64)$/.test(r.name)).map((r) => `fam-builder-${r.name.slice(-5)}-${plain(r).builder.name}`);
            const ran = Object.keys(after).filter((k) => after[k] !== before[k]).sort();
            assert.deepEqual(ran, owner.sort());
        });

        it("hashes on image and variant: each variant of an image is placed on its own", async () => {
            const variants = { perf: { PROFILE: "performance" }, debug: { PROFILE: "debug" } };
            const { resources, family } = await declareFamily(familyArgs({ images: WIDE, builders: twoEach, variants }));
            for (const img of family.images) {
                for (const [platform, builder] of Object.entries(img.builders)) {
                    const pool = twoEach[platform as keyof typeof twoEach];
                    assert.equal(builder, pickBuilder(buildKey(img.image, img.variant), pool), `${img.image}/${img.variant} ${platform}`);
                }
            }
            // The variants of an image do not all follow one another: some land on the other builder.
            const split = WIDE.slice(1).some((s) => family.image(s.name, "perf").builders["linux/amd64"] !== family.image(s.name, "debug").builders["linux/amd64"]);
            assert.ok(split, "every image's variants sit together; the key ignores the variant");
            // dev-env has no variants; the artifact and each runtime one build per variant.
            assert.equal(builds(resources).length, (1 + 9 * 2) * 2);
        });

        it("takes a fleet-style builder ({ name, ready }): its check names it once ready resolves, its builds name it outright", async () => {
            const ready = pulumi.output("registered").apply(() => "f-amd64");
            const { resources } = await declareFamily(familyArgs({
                images: WIDE,
                builders: { "linux/amd64": [{ name: "f-amd64", ready }, { name: "f-amd64-1", ready: "f-amd64-1" }], "linux/arm64": "b-arm64" },
            }));
            const checks = resources.filter((r) => r.type === CHECK);
            assert.deepEqual(checks.map((r) => [r.name, plain(r).builder]).sort(),
                [["fam-builder-amd64-f-amd64", "f-amd64"], ["fam-builder-amd64-f-amd64-1", "f-amd64-1"], ["fam-builder-arm64", "b-arm64"]]);
            const amd64 = builds(resources).filter((r) => r.name.endsWith("-amd64")).map((r) => plain(r).builder.name);
            assert.deepEqual([...new Set(amd64)].sort(), ["f-amd64", "f-amd64-1"]);
        });

        it("refuses an Output inside a list, an empty pool and a name listed twice, before anything is declared", async () => {
            const err = await rejection(familyArgs({
                images: WIDE,
                builders: { "linux/amd64": ["a", pulumi.output("b") as unknown as string, "A"], "linux/arm64": [] },
            }));
            assert.match(err.message, /^ImageFamily "fam" \(stack "test"\) is invalid/);
            assert.match(err.message, /builders\["linux\/amd64"\]\[1\]: is an Output, but a pool's names decide where each build goes/);
            assert.doesNotMatch(err.message, /unknown key|toJSON/);
            assert.match(err.message, /builders\["linux\/amd64"\]\[2\]: "A" is already in the pool \(entry 0\)/);
            assert.match(err.message, /builders\["linux\/arm64"\]: an empty pool has no builder/);
            assert.deepEqual(err.resources ?? [], []);
        });
    });

    describe("rendezvous hashing", () => {
        const names = fc.uniqueArray(fc.stringMatching(/^[a-z][a-z0-9-]{0,12}$/), { minLength: 1, maxLength: 6, selector: (n) => n.toLowerCase() });
        const keys = fc.uniqueArray(fc.string({ minLength: 1, maxLength: 20 }), { minLength: 1, maxLength: 40 });

        it("is stable: the same key and pool, the same builder, whatever the pool's order", () => {
            fc.assert(fc.property(names, keys, (pool, ks) => {
                const reversed = [...pool].reverse();
                return ks.every((k) => pickBuilder(k, pool) === pickBuilder(k, reversed));
            }));
        });

        it("moves the least: a builder added takes builds only for itself; one removed gives away only its own", () => {
            fc.assert(fc.property(names, keys, fc.stringMatching(/^[a-z][a-z0-9-]{0,12}$/), (pool, ks, added) => {
                fc.pre(!pool.includes(added));
                const grown = [...pool, added];
                for (const k of ks) {
                    const before = pickBuilder(k, pool);
                    const after = pickBuilder(k, grown);
                    if (after !== before && after !== added) {
                        return false;
                    }
                }
                const gone = pool[0];
                const shrunk = pool.slice(1);
                return shrunk.length === 0 || ks.every((k) => pickBuilder(k, pool) === gone || pickBuilder(k, shrunk) === pickBuilder(k, pool));
            }));
        });

        it("spreads: over 3000 images, each of 3 builders gets its third within 10 %", () => {
            const pool3 = ["ci-amd64", "ci-amd64-1", "ci-amd64-2"];
            const counts = new Map(pool3.map((b) => [b, 0]));
            for (let i = 0; i < 3000; i++) {
                const b = pickBuilder(buildKey(`image-${i}`, ""), pool3);
                counts.set(b, counts.get(b)! + 1);
            }
            for (const [b, n] of counts) {
                assert.ok(n > 900 && n < 1100, `${b}: ${n} of 3000`);
            }
        });
    });
});
