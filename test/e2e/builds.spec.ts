// The example family built for real: the bake file that `npm run bake` derives
// from the program's Image inputs, run by the Docker engine's BuildKit, pushed
// to a real registry, read back over the registry's HTTP API.
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { exampleFamily } from "../../example/family";
import * as YAML from "yaml";
import { archOf, copyExample, E2E_FUNCTIONS, fromCache, indexPlatforms, manifest, must, parseProgress, requireEngine, Run, ROOT, runSha, sh, Step, tags, writeBake } from "./support";

const BUILDER = process.env.IMAGEFLEET_E2E_BUILDER ?? "default";

// A smaller program to compile: these tests judge which steps run, not how long the compile takes.
const LOCAL_BUILD_ARGS = YAML.parse(fs.readFileSync(path.join(ROOT, "stacks", "Pulumi.local.yaml"), "utf8")).config["imagefleet:buildArgs"];
const SMALLER_COMPILE = `imagefleet:buildArgs=${JSON.stringify({ ...LOCAL_BUILD_ARGS, FUNCTIONS: String(E2E_FUNCTIONS) })}`;

/** Bakes the local stack with overrides; returns the run, its steps and the index plan. */
async function bake(overrides: string[], group?: string): Promise<Run & { steps: ReturnType<typeof parseProgress>; indexes: { tags: string[]; sources: string[] }[] }> {
    const { file: out, indexes } = await writeBake(BUILDER, [SMALLER_COMPILE, ...overrides]);
    const run = sh("docker", ["buildx", "bake", "--builder", BUILDER, "-f", out, "--progress=plain", ...(group ? [group] : [])]);
    return { ...run, steps: parseProgress(run.stderr), indexes };
}

/** What the stack publishes per image: its index, joining the per-platform images, under the commit's tags. */
function publishIndexes(indexes: { tags: string[]; sources: string[] }[]): void {
    for (const { tags, sources } of indexes) {
        must("docker", ["buildx", "imagetools", "create", "--builder", BUILDER, ...tags.flatMap((t) => ["-t", t]), ...sources]);
    }
}

const isInstallOrCompile = (s: Step) => / RUN .*(apt-get install|make )/.test(s.name);

/** The package-install and compile steps, one per (command, arch); BuildKit dedups shared vertices. */
function heavySteps(steps: readonly Step[]): Map<string, Step> {
    const found = new Map<string, Step>();
    for (const s of steps.filter(isInstallOrCompile)) {
        found.set(`${s.name.includes("apt-get") ? "apt-get install" : "make"} ${archOf(s)}`, s);
    }
    return found;
}

const EXPECTED_HEAVY = ["apt-get install amd64", "apt-get install arm64", "make amd64", "make arm64"];

describe("real builds (Docker engine BuildKit, local registry, QEMU)", function () {
    this.timeout(30 * 60 * 1000);
    const sha = runSha();
    const tag = sha.slice(0, 12);
    const branch = `e2e-${tag}`;
    // No fallback cache: the first build is really cold. Layers a builder only
    // holds lazily (from an earlier import) are not re-exported to a new cache
    // ref, which would make the wiped-cache rebuild below depend on history.
    const git = [`imagefleet:gitSha=${sha}`, `imagefleet:gitBranch=${branch}`, `imagefleet:fallbackBranches=["none-${tag}"]`];

    before(() => requireEngine());

    it("builds the family for linux/amd64 and linux/arm64 and pushes a manifest list per image", async () => {
        must("docker", ["buildx", "prune", "--builder", BUILDER, "--all", "--force"]);
        const r = await bake(git);
        assert.equal(r.code, 0, r.stderr.slice(-6000));
        publishIndexes(r.indexes);
        for (const image of ["dev-env", "artifact", "runtime"]) {
            const m = await manifest(`imagefleet/${image}`, tag);
            assert.equal(m.status, 200, `imagefleet/${image}:${tag} is not in the registry`);
            assert.match(m.body.mediaType, /index|manifest\.list/);
            assert.deepEqual(indexPlatforms(m.body), ["linux/amd64", "linux/arm64"]);
            const moving = await manifest(`imagefleet/${image}`, "local");
            assert.equal(moving.digest, m.digest, "the moving tag is not the same index");
        }
    });

    it("runs the runtime image on both platforms (arm64 under QEMU)", () => {
        const outputs = ["linux/amd64", "linux/arm64"].map((platform) =>
            must("docker", ["run", "--rm", "--pull", "always", "--platform", platform, `registry.localhost:5000/imagefleet/runtime:${tag}`]).stdout.trim());
        assert.match(outputs[0], /^imagefleet-example 0\.1\.0 arch=x86_64 checksum=\d+$/);
        assert.match(outputs[1], /^imagefleet-example 0\.1\.0 arch=aarch64 checksum=\d+$/);
        assert.equal(outputs[0].split("checksum=")[1], outputs[1].split("checksum=")[1], "both platforms compiled the same program");
    });

    it("after the builder's cache is wiped, a rebuild imports the registry cache and installs or compiles nothing", async () => {
        must("docker", ["buildx", "prune", "--builder", BUILDER, "--all", "--force"]);
        sh("docker", ["image", "prune", "--all", "--force"]);
        const r = await bake(git);
        assert.equal(r.code, 0, r.stderr.slice(-6000));
        const heavy = heavySteps(r.steps);
        assert.deepEqual([...heavy.keys()].sort(), EXPECTED_HEAVY);
        for (const step of heavy.values()) {
            assert.ok(fromCache(step), `${step.name} ran instead of coming from the registry cache:\n${step.lines.join("\n")}`);
        }
        assert.match(r.stderr, /importing cache manifest from registry\.localhost:5000\/imagefleet\/.*-cache:e2e-/);
    });

    it("a one-line change to the runtime Dockerfile re-runs only runtime steps", async () => {
        const dir = copyExample();
        const file = path.join(dir, "runtime.Dockerfile");
        fs.writeFileSync(file, fs.readFileSync(file, "utf8").replace("RUN /usr/local/bin/hello", `RUN /usr/local/bin/hello && echo ${tag} > /etc/imagefleet-change`));
        const images = JSON.stringify(exampleFamily({ context: dir }));
        const r = await bake([...git, `imagefleet:images=${images}`]);
        assert.equal(r.code, 0, r.stderr.slice(-6000));
        const heavy = heavySteps(r.steps);
        assert.deepEqual([...heavy.keys()].sort(), EXPECTED_HEAVY);
        for (const step of heavy.values()) {
            assert.ok(fromCache(step), `${step.name} re-ran after a runtime-only change:\n${step.lines.join("\n")}`);
        }
        const changed = r.steps.filter((s) => s.name.includes("imagefleet-change"));
        assert.deepEqual(changed.map(archOf).sort(), ["amd64", "arm64"]);
        assert.ok(changed.every((s) => s.ran && !s.cached), `the changed runtime step did not run: ${JSON.stringify(changed)}`);
    });

    it("a build whose cache refs do not exist yet still succeeds and writes its own ref", async () => {
        const fresh = `${tag}-fresh`;
        const r = await bake([`imagefleet:gitSha=${sha}`, `imagefleet:gitBranch=${fresh}`, `imagefleet:fallbackBranches=["never-${tag}"]`]);
        assert.equal(r.code, 0, r.stderr.slice(-6000));
        assert.ok((await tags("imagefleet/runtime-cache")).includes(`${fresh}-arm64`), "the new branch's cache ref was not written");
    });

    it("a Dockerfile syntax error is refused before anything builds, with BuildKit's message and the image name, and pushes nothing", async () => {
        const broken = runSha();
        const dir = copyExample();
        const file = path.join(dir, "runtime.Dockerfile");
        fs.writeFileSync(file, fs.readFileSync(file, "utf8").replace("RUN /usr/local/bin/hello", "RUNN /usr/local/bin/hello"));
        const images = JSON.stringify(exampleFamily({ context: dir }));
        // BuildKit's own frontend parses every Dockerfile when the program runs (exact inputs), so the
        // program refuses the family, naming the image, before a bake file or any build exists.
        const refused = await bake([`imagefleet:gitSha=${broken}`, `imagefleet:gitBranch=${branch}`, `imagefleet:images=${images}`], "example-runtime")
            .then((r) => assert.fail(`the broken Dockerfile was baked (exit ${r.code})`), (err: unknown) => (err instanceof Error ? err.message : String(err)));
        assert.match(refused, /unknown instruction: RUNN/i);
        assert.match(refused, /images\[2\]\.dockerfile: image "runtime": BuildKit's Dockerfile frontend refused .*runtime\.Dockerfile: dockerfile parse error on line \d+/);
        for (const image of ["dev-env", "artifact", "runtime"]) {
            const pushed = (await tags(`imagefleet/${image}`)).filter((t) => t.startsWith(broken.slice(0, 12)));
            assert.deepEqual(pushed, [], `imagefleet/${image} got ${pushed.join(", ")}`);
        }
    });
});
