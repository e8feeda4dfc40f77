// imagefleet from other languages (issue 31), for real: a Pulumi YAML program
// (Pulumi YAML's language host, built from its Go module) and a Go program
// (an Automation API program on the generated Go SDK) each declare the
// example family through imagefleet's provider plugin, on the hosts and
// registry of this lane, with the real engine. The generated SDKs are checked
// against what Pulumi's codegen writes from the committed schema.
import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { ValidationError } from "../../components/errors";
import { validateFamily } from "../../components/images/validate";
import { exampleFamily } from "../../example/family";
import { localBuilders } from "./hosts";
import { indexPlatforms, manifest, must, requireEngine, ROOT, runSha, sh, smallerCompile } from "./support";

const REGISTRY = "registry.localhost:5000";
const PLUGIN = path.join(ROOT, "provider");

/** Files under `dir`, relative, sorted. */
function files(dir: string): string[] {
    return (fs.readdirSync(dir, { recursive: true }) as string[]).filter((f) => fs.statSync(path.join(dir, f)).isFile()).sort();
}

/** The newest modification time under `dir` of files ending in `ext`. */
function newest(dir: string, ext: string): number {
    return Math.max(...files(dir).filter((f) => f.endsWith(ext)).map((f) => fs.statSync(path.join(dir, f)).mtimeMs));
}

/** The plugin runs dist/; build it when a component source is newer (a checkout's first run, or an edit). */
function freshPlugin(): void {
    const main = path.join(ROOT, "dist", "provider", "main.js");
    if (!fs.existsSync(main) || fs.statSync(main).mtimeMs < newest(path.join(ROOT, "components"), ".ts")) {
        must("npm", ["run", "build:lib"], { cwd: ROOT });
    }
}

/** What the TypeScript program is told for the same bad input. */
function typescriptMessage(kind: string): string {
    const images = exampleFamily().map((i) => (i.name === "runtime" ? { ...i, kind: kind as "runtime" } : i));
    try {
        validateFamily("family", { images, builders: localBuilders(), registry: { address: REGISTRY }, git: { branch: "main", sha: "0123456" } }, "local");
    } catch (e) {
        assert.ok(e instanceof ValidationError);
        return e.message.split("\n").find((l) => l.includes(".kind"))!.trim();
    }
    throw new Error("TypeScript accepted the bad kind");
}

/** Runs each platform's runtime image and returns what it printed. */
function runRuntime(ref: string): string[] {
    return ["linux/amd64", "linux/arm64"].map((platform) =>
        must("docker", ["run", "--rm", "--pull", "always", "--platform", platform, ref]).stdout.trim());
}

function assertFamily(refs: Record<string, string>, namespace: string, sha: string): void {
    assert.deepEqual(Object.keys(refs).sort(), ["artifact", "dev-env", "runtime"]);
    for (const [image, ref] of Object.entries(refs)) {
        assert.match(ref, new RegExp(`^${REGISTRY}/${namespace}/${image}:${sha.slice(0, 12)}@sha256:[0-9a-f]{64}$`));
    }
    const out = runRuntime(refs.runtime.split("@")[0]);
    assert.match(out[0], /^imagefleet-example 0\.1\.0 arch=x86_64 checksum=\d+$/);
    assert.match(out[1], /^imagefleet-example 0\.1\.0 arch=aarch64 checksum=\d+$/);
}

describe("imagefleet from YAML and Go, through its provider plugin (real engine)", function () {
    this.timeout(30 * 60 * 1000);
    const sha = runSha();
    const run = sha.slice(0, 8);
    let work = "";
    let project = "";
    const config = (namespace: string): Record<string, string> => ({
        registry: REGISTRY, namespace,
        builderAmd64: localBuilders()["linux/amd64"], builderArm64: localBuilders()["linux/arm64"],
        baseImage: process.env.IMAGEFLEET_BASE_IMAGE ?? `${REGISTRY}/base/debian:bookworm`,
        busyboxImage: process.env.IMAGEFLEET_BUSYBOX_IMAGE ?? `${REGISTRY}/base/busybox:1.36`,
        branch: "main", sha, baseDir: project, kind: "runtime",
    });
    const env = (dir: string) => ({ ...process.env, PULUMI_BACKEND_URL: `file://${dir}/state`, PULUMI_CONFIG_PASSPHRASE: "imagefleet-languages" });
    const refsOf: Record<string, Record<string, string>> = {};

    before(function () {
        requireEngine();
        for (const tool of ["pulumi-language-yaml", "imagefleet-sdkgen", "go"]) {
            assert.equal(sh("bash", ["-c", `command -v ${tool}`]).code, 0, `${tool} is not on PATH: run scripts/build-tools.sh and source its env.sh`);
        }
        freshPlugin();
        work = fs.mkdtempSync(path.join(os.tmpdir(), "imagefleet-languages-"));
        // The example with the e2e tier's smaller compile, as the other specs build it.
        project = path.join(work, "project");
        fs.cpSync(path.join(ROOT, "example"), path.join(project, "example"), { recursive: true, filter: (src) => !src.endsWith(".ts") });
        smallerCompile(project);
    });
    after(() => {
        if (work) {
            fs.rmSync(work, { recursive: true, force: true });
        }
    });

    it("the committed SDKs are what Pulumi's codegen writes from schema.json (Go builds, Python compiles)", () => {
        const out = path.join(work, "sdk");
        must("imagefleet-sdkgen", ["-schema", path.join(ROOT, "schema.json"), "-out", out, "go", "python"]);
        for (const lang of ["go", "python"]) {
            const committed = path.join(ROOT, "sdk", lang);
            assert.deepEqual(files(path.join(out, lang)), files(committed), `sdk/${lang}: run npm run sdk`);
            for (const f of files(committed)) {
                assert.equal(fs.readFileSync(path.join(committed, f), "utf8"), fs.readFileSync(path.join(out, lang, f), "utf8"), `sdk/${lang}/${f} is stale: run npm run sdk`);
            }
        }
        must("go", ["vet", "./..."], { cwd: path.join(ROOT, "sdk") });
        must("python3", ["-m", "compileall", "-q", path.join(out, "python")]);
    });

    describe("a YAML program (test/consumers/yaml)", () => {
        const namespace = `lang-yaml-${run}`;
        let dir = "";
        const pulumi = (args: string[]) => sh("pulumi", [...args, "--non-interactive"], { cwd: dir, env: env(dir) });
        before(() => {
            dir = path.join(work, "yaml");
            fs.mkdirSync(path.join(dir, "state"), { recursive: true });
            const program = fs.readFileSync(path.join(ROOT, "test", "consumers", "yaml", "Pulumi.yaml"), "utf8");
            fs.writeFileSync(path.join(dir, "Pulumi.yaml"), program.replace("path: ../../../provider", `path: ${PLUGIN}`));
            must("pulumi", ["stack", "init", "local", "--non-interactive"], { cwd: dir, env: env(dir) });
            for (const [k, v] of Object.entries(config(namespace))) {
                must("pulumi", ["config", "set", k, v], { cwd: dir, env: env(dir) });
            }
        });

        it("pulumi up builds and publishes the example family on both platforms, and each runtime runs", async () => {
            const r = pulumi(["up", "--yes", "--skip-preview"]);
            assert.equal(r.code, 0, `${r.stdout.slice(-6000)}\n${r.stderr.slice(-3000)}`);
            assert.match(r.stdout, /imagefleet:images:TagSet\s+family-tags\s+created/, "the TagSet is the plugin's resource");
            assert.doesNotMatch(r.stdout, /pulumi-nodejs:dynamic/);
            refsOf.yaml = JSON.parse(must("pulumi", ["stack", "output", "refs", "--json"], { cwd: dir, env: env(dir) }).stdout);
            assertFamily(refsOf.yaml, namespace, sha);
            const index = await manifest(`${namespace}/runtime`, sha.slice(0, 12));
            assert.deepEqual(indexPlatforms(index.body).sort(), ["linux/amd64", "linux/arm64"]);
        });

        it("a second pulumi up changes nothing", () => {
            const r = pulumi(["up", "--yes", "--skip-preview", "--expect-no-changes"]);
            assert.equal(r.code, 0, `${r.stdout.slice(-4000)}\n${r.stderr.slice(-2000)}`);
            assert.match(r.stdout, /14 unchanged/);
        });

        it("an unknown image kind fails the preview with the TypeScript program's message", () => {
            must("pulumi", ["config", "set", "kind", "widget"], { cwd: dir, env: env(dir) });
            try {
                const r = pulumi(["preview"]);
                assert.notEqual(r.code, 0);
                assert.ok(`${r.stdout}${r.stderr}`.includes(typescriptMessage("widget")), `${r.stdout}\n${r.stderr}`);
                assert.match(r.stdout, /ImageFamily "family" \(stack "local"\) is invalid/);
            } finally {
                must("pulumi", ["config", "set", "kind", "runtime"], { cwd: dir, env: env(dir) });
            }
        });
    });

    describe("a Go program (test/consumers/go, the generated Go SDK)", () => {
        const namespace = `lang-go-${run}`;
        let dir = "";
        let bin = "";
        const goProgram = (verb: string, overrides: Record<string, string> = {}) => {
            const settings = Object.entries({ ...config(namespace), ...overrides }).flatMap(([k, v]) => ["-config", `${k}=${v}`]);
            const r = sh(bin, ["-work", dir, "-plugin", PLUGIN, ...settings, verb], { env: env(dir) });
            const last = r.stdout.trim().split("\n").pop() ?? "{}";
            return { ...r, result: JSON.parse(last) as { changes?: Record<string, number>; outputs?: { refs?: Record<string, string> }; error?: string } };
        };
        before(() => {
            dir = path.join(work, "go");
            fs.mkdirSync(path.join(dir, "state"), { recursive: true });
            bin = path.join(work, "imagefleet-go");
            must("go", ["build", "-o", bin, "."], { cwd: path.join(ROOT, "test", "consumers", "go"), env: { ...process.env, CGO_ENABLED: "0" } });
        });

        it("up builds and publishes the example family on both platforms, the same digests as YAML's", () => {
            const r = goProgram("up");
            assert.equal(r.code, 0, `${r.result.error ?? ""}\n${r.stderr.slice(-4000)}`);
            assert.equal(r.result.changes?.create, 14);
            const refs = r.result.outputs!.refs!;
            assertFamily(refs, namespace, sha);
            if (refsOf.yaml) {
                const digests = (m: Record<string, string>) => Object.fromEntries(Object.entries(m).map(([k, v]) => [k, v.split("@")[1]]));
                assert.deepEqual(digests(refs), digests(refsOf.yaml), "one implementation: the same inputs build the same digests from either language");
            }
        });

        it("a second up changes nothing", () => {
            const r = goProgram("up");
            assert.equal(r.code, 0, r.result.error);
            assert.deepEqual(r.result.changes, { same: 14 });
        });

        it("an unknown image kind fails the preview with the TypeScript program's message", () => {
            const r = goProgram("preview", { kind: "widget" });
            assert.notEqual(r.code, 0);
            assert.ok(r.result.error?.includes(typescriptMessage("widget")), r.result.error);
        });
    });
});
