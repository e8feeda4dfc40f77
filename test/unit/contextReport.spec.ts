// The context report (issue 13): what each image's context admits after its
// ignore file, measured during the staging walk, against per-family limits.
import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { scanContext } from "../../components/images/contexts/scan";
import { contextLine, contextReport, formatBytes, largestDirectories, reportContexts } from "../../components/images/contexts/report";
import { stageContext } from "../../components/images/contexts/stage";
import { ImageFamilyArgs } from "../../components/images";
import { ROOT } from "../../scripts/harness/stackFile";
import { assertMentions, builds, declareFamily, familyArgs, SHA } from "./helpers";
import { fastTmpDir, generateTree, removeTree } from "./contextTree";

const DOCKERFILE = { Dockerfile: "FROM scratch\nCOPY . /\n" };

describe("context report", function () {
    this.timeout(120_000);
    let tmp = "";
    const trees: string[] = [];
    const tree = (name: string, dirs: Parameters<typeof generateTree>[1], extra: Record<string, string> = {}): string => {
        const root = path.join(tmp, name);
        generateTree(root, dirs, { link: true, extra: { ...DOCKERFILE, ...extra } });
        trees.push(root);
        return root;
    };
    const NONE = { files: 0, bytes: 0 };
    const report = (root: string, limits = {}) => contextReport({ ...scanContext(root, path.join(root, "Dockerfile")), source: root, ignoreFile: undefined, read: NONE }, limits);

    before(() => {
        tmp = fastTmpDir("imagefleet-ctx-");
    });
    after(() => {
        trees.forEach(removeTree);
        fs.rmSync(tmp, { recursive: true, force: true });
    });

    it("formats sizes in binary units and the synth line", () => {
        assert.equal(formatBytes(0), "0 B");
        assert.equal(formatBytes(1023), "1023 B");
        assert.equal(formatBytes(1536), "1.5 KiB");
        assert.equal(formatBytes(100 * 1024 * 1024), "100.0 MiB");
        assert.equal(contextLine({ files: 100_000, read: { files: 2, bytes: 3 * 1024 ** 3 } }), "context: reads 2 of 100,000 files (3.0 GiB)");
        assert.equal(contextLine({ files: 7, read: { files: 0, bytes: 0 } }), "context: reads none of 7 files");
        assert.equal(contextLine({ files: 7, read: { files: 7, bytes: 1536, whole: "COPY . /app (line 3)" } }), "context: reads all 7 files (1.5 KiB): COPY . /app (line 3)");
    });

    it("counts per directory only what the ignore file admits, in the walk that stages", () => {
        const root = tree("counted", { "src/a": { files: 3, size: 10 }, "src/b": { files: 2, size: 100 }, "build/out": { files: 50, size: 1000 } },
            { ".dockerignore": "build\nsrc/**/f00001\n" });
        const scan = scanContext(root);
        assert.equal(scan.files, 2 + 1 + 2); // src/a: 2, src/b: 1, Dockerfile, .dockerignore
        assert.deepEqual(scan.dirs.get("src"), { files: 3, bytes: 2 * 10 + 100 });
        assert.deepEqual(scan.dirs.get("src/a"), { files: 2, bytes: 20 });
        assert.equal(scan.dirs.has("build"), false, "an excluded directory is neither walked nor counted");
        assert.equal(scan.files, [...scan.dirs].filter(([p]) => !p.includes("/")).reduce((n, [, t]) => n + t.files, 0) + 2);
    });

    it("a 100k-file context without .dockerignore warns over maxFiles and names its largest directory", () => {
        const started = Date.now();
        const root = tree("monorepo", {
            "thirdparty/installed": { files: 60_000, size: 1 },
            "be/src": { files: 25_000, size: 4 },
            "fe/src": { files: 10_000, size: 2 },
            "docs": { files: 4_999, size: 1 },
        });
        const r = report(root);
        assert.equal(r.files, 100_000);
        assert.equal(r.warnings.length, 1, r.warnings.join("\n"));
        assertMentions(r.warnings[0], [
            `context ${JSON.stringify(root)} admits 100,000 files (limit 20,000, contextLimits.maxFiles)`,
            "with no .dockerignore",
            "largest directories: thirdparty/installed/ (60,000 files, 58.6 KiB, 60 %), be/src/ (25,000 files",
            `exclude what no Dockerfile reads in ${path.join(root, ".dockerignore")}`,
        ]);
        assert.deepEqual(r.largest.map((d) => d.path), ["thirdparty/installed", "be/src", "fe/src"]);
        // Generating, walking and judging 100k files stays a unit test.
        assert.ok(Date.now() - started < 30_000, `took ${Date.now() - started} ms`);
    });

    it("warns over maxBytes naming directories by bytes, honours per-family limits, and is quiet below them", () => {
        const root = tree("bytes", { "assets/video": { files: 3, size: 400_000 }, "src": { files: 300, size: 100 } });
        const r = report(root, { maxBytes: 1024 * 1024 });
        assert.equal(r.warnings.length, 1);
        assertMentions(r.warnings[0], ["1.2 MiB (limit 1.0 MiB, contextLimits.maxBytes)", "largest directories: assets/video/ (3 files, 1.1 MiB, 98 %), src/"]);
        assert.deepEqual(report(root).warnings, [], "the defaults (100 MiB, 20,000 files) are not exceeded");
        assert.match(report(root, { maxFiles: 100 }).warnings[0], /304 files \(limit 100, contextLimits\.maxFiles\).*largest directories: src\/ \(300 files/);
    });

    it("names the directory that holds nearly all of a top-level one, not the top-level one", () => {
        const root = tree("deep", { "src/main/java/org": { files: 90, size: 1 }, "src/test": { files: 5, size: 1 }, "lib/a": { files: 20, size: 1 }, "lib/b": { files: 20, size: 1 } });
        assert.deepEqual(largestDirectories(scanContext(root).dirs, "files").map((d) => d.path), ["src/main/java/org", "lib"]);
    });

    it("warns when .git or node_modules is sent, outermost only, and not once the ignore file excludes them", () => {
        const dirs = { ".git/objects": { files: 40, size: 100 }, "web/node_modules/react": { files: 30, size: 10 }, "web/node_modules/x/node_modules/y": { files: 5, size: 1 }, "web/src": { files: 5, size: 1 } };
        const root = tree("heavy", dirs);
        const r = report(root);
        assert.deepEqual(r.unexcluded.map((d) => d.path), [".git", "web/node_modules"]);
        assert.equal(r.warnings.length, 1);
        assertMentions(r.warnings[0], [".git/ (40 files, 3.9 KiB) and web/node_modules/ (35 files, 305 B) with no .dockerignore", "add .git and web/node_modules to"]);

        const ignored = tree("heavy-ignored", dirs, { ".dockerignore": ".git\n**/node_modules\n" });
        const scan = scanContext(ignored);
        assert.deepEqual(contextReport({ ...scan, source: "heavy-ignored", ignoreFile: "heavy-ignored/.dockerignore", read: NONE }).warnings, []);
        // An exception that lets part of .git back in admits it again.
        fs.writeFileSync(path.join(ignored, ".dockerignore"), ".git\n!.git/objects/f00001\n**/node_modules\n");
        const again = contextReport({ ...scanContext(ignored), source: "heavy-ignored", ignoreFile: "heavy-ignored/.dockerignore", read: NONE });
        assert.deepEqual(again.unexcluded, [{ path: ".git", files: 1, bytes: 100 }]);
        assert.match(again.warnings[0], /admits \.git\/ \(1 files, 100 B\) after heavy-ignored\/\.dockerignore: add \.git to heavy-ignored\/\.dockerignore/);
    });

    describe("ImageFamily", () => {
        const family = (root: string, overrides: Partial<ImageFamilyArgs> = {}) => familyArgs({
            images: [
                { name: "dev", kind: "dev-env", context: root },
                { name: "app", kind: "runtime", context: root, from: ["dev"] },
                { name: "docs", kind: "runtime", context: root, dockerfile: "docs.Dockerfile" },
            ],
            stageDir: path.join(tmp, "stage"),
            ...overrides,
        });

        it("reports each image's context, registers it as the family's output contexts, and warns at its contextLimits", async () => {
            const root = tree("family", { "src": { files: 30, size: 10 }, "site": { files: 5, size: 1000 } },
                { "docs.Dockerfile": "FROM scratch\n", "docs.Dockerfile.dockerignore": "*\n!site\n" });
            const { family: f, resources } = await declareFamily(family(root, { contextLimits: { maxFiles: 20 } }));
            assert.deepEqual(Object.keys(f.contexts).sort(), ["app", "dev", "docs"]);
            assert.equal(f.contexts.dev.files, 38); // src, site and the three files at the top
            assert.equal(f.contexts.app.files, 38, "images that share a context report the same admitted files");
            const whole = { files: 38, bytes: f.contexts.dev.bytes, whole: "COPY . / (line 2)" };
            assert.deepEqual([f.contexts.dev.read, f.contexts.app.read], [whole, whole], "COPY . / reads the whole context, and the report names the line");
            assert.deepEqual(f.contexts.docs.read, { files: 0, bytes: 0 }, "FROM scratch alone reads nothing");
            assert.equal(f.contexts.docs.files, 5);
            assert.equal(f.contexts.docs.ignoreFile, path.join(root, "docs.Dockerfile.dockerignore"), "outside the project: absolute");
            assert.match(f.contexts.dev.warnings[0], /38 files \(limit 20, contextLimits\.maxFiles\).*largest directories: src\/ \(30 files/);
            assert.deepEqual(f.contexts.docs.warnings, []);
            const registered = resources.find((r) => r.type === "imagefleet:images:ImageFamily")!.outputs!;
            assert.deepEqual(registered.contexts, JSON.parse(JSON.stringify(f.contexts)));
            assert.equal(builds(resources).length, 6);
        });

        it("walks a context shared by several images once", async () => {
            const root = tree("shared", { src: { files: 10, size: 1 } }, { "docs.Dockerfile": "FROM scratch\n" });
            const probe = path.join(root, "src", "f00000");
            let stats = 0;
            // eslint-disable-next-line @typescript-eslint/no-require-imports
            const nodeFs = require("fs") as { lstatSync: (...a: unknown[]) => unknown };
            const original = nodeFs.lstatSync;
            nodeFs.lstatSync = (p: unknown, ...rest: unknown[]) => {
                stats += p === probe ? 1 : 0;
                return original(p, ...rest);
            };
            try {
                await declareFamily(family(root));
            } finally {
                nodeFs.lstatSync = original;
            }
            assert.equal(stats, 1, "three images share the context: one walk, one lstat of each file");
        });
    });

    it("logs the figures on the family when an engine is attached: one line per shared context, each warning once", () => {
        const root = tree("logged", { ".git/objects": { files: 2, size: 1 }, src: { files: 1, size: 1 } },
            { "docs.Dockerfile": "FROM scratch\n", "docs.Dockerfile.dockerignore": ".git\n" });
        // Each image reads its whole context (stageContext stages all it admits).
        const stage = (dockerfile: string) => stageContext({ context: root, dockerfile: path.join(root, dockerfile), stageDir: path.join(tmp, `logged-${dockerfile}`), dockerfileName: dockerfile, epoch: 0 });
        const shared = stage("Dockerfile");
        const images = [{ image: "dev", staged: { "linux/amd64": shared } }, { image: "app", staged: { "linux/amd64": shared, "linux/arm64": shared } },
            { image: "docs", staged: { "linux/amd64": stage("docs.Dockerfile") } }];
        const family = {} as pulumi.Resource;
        const logged: [string, string, unknown][] = [];
        const runtime = pulumi.runtime as { getEngine: () => unknown };
        const log = pulumi.log as { info: (...a: unknown[]) => Promise<void>; warn: (...a: unknown[]) => Promise<void> };
        const saved = { getEngine: runtime.getEngine, info: log.info, warn: log.warn };
        const capture = (severity: string) => async (msg: unknown, res: unknown) => void logged.push([severity, String(msg), res]);
        let reports;
        try {
            Object.assign(log, { info: capture("info"), warn: capture("warn") });
            assert.equal(Object.keys(reportContexts(family, images)).length, 3);
            assert.equal(logged.length, 0, "without an engine (mocks) nothing is logged");
            runtime.getEngine = () => ({});
            reports = reportContexts(family, images);
        } finally {
            Object.assign(runtime, { getEngine: saved.getEngine });
            Object.assign(log, { info: saved.info, warn: saved.warn });
        }
        assert.deepEqual(Object.keys(reports), ["dev", "app", "docs"]);
        assert.ok(logged.every(([, , res]) => res === family), "every line is logged on the family");
        assert.deepEqual(logged.map(([sev]) => sev), ["info", "warn", "info"]);
        assert.match(logged[0][1], /^context: 6 files, \d+ B \(.*logged, no \.dockerignore; staged in \d+\.\d\d s\): dev reads all 6 files \(\d+ B\): the whole context; app reads all 6 files/);
        assert.match(logged[1][1], /^images dev, app: context ".*logged" admits \.git\/ \(2 files, 2 B\) with no \.dockerignore: add \.git to /);
        assert.match(logged[2][1], /^context: 4 files, \d+ B \(.*logged, after .*logged\/docs\.Dockerfile\.dockerignore; staged in \d+\.\d\d s\): docs reads all 4 files/);
    });

    describe("npm run synth", () => {
        const synth = (...args: string[]) => spawnSync(process.execPath, ["-r", "ts-node/register/transpile-only", "scripts/synth.ts", "--stack", "local",
            "--config", `imagefleet:gitSha=${SHA}`, "--config", "imagefleet:gitBranch=main", ...args], { cwd: ROOT, encoding: "utf8" });

        it("prints what each image build reads of its context, and the reports in --json", () => {
            const tree = synth();
            assert.equal(tree.status, 0, tree.stderr);
            const lines = tree.stdout.split("\n");
            const imageLines = lines.flatMap((l, i) => (l.includes("[docker-build:index:Image]") ? [i] : []));
            assert.equal(imageLines.length, 6);
            for (const i of imageLines) {
                assert.match(lines[i + 1], /^ {4}context: reads (none of \d+ files|\d+ of \d+ files \([\d.]+ (B|KiB)\))$/, lines[i]);
            }
            const json = JSON.parse(synth("--json").stdout);
            const contexts = json.find((r: any) => r.type === "imagefleet:images:ImageFamily").outputs.contexts;
            assert.deepEqual(Object.keys(contexts).sort(), ["artifact", "dev-env", "runtime"]);
            assert.equal(contexts.runtime.ignoreFile, "example/.dockerignore");
            assert.equal(contexts.artifact.ignoreFile, "example/.dockerignore");
            assert.match(lines[imageLines[0] + 1], new RegExp(`context: reads none of ${contexts["dev-env"].files} files`));
            assert.equal(contexts.artifact.read.files, 3, "the artifact reads src/: main.c, Makefile, gen.sh");
        });

        it("prints a context's warning under the family", () => {
            const root = tree("synth-heavy", { "node_modules/left-pad": { files: 3, size: 10 }, src: { files: 2, size: 10 } });
            const images = [{ name: "app", kind: "runtime", context: root }];
            const r = synth("--config", `imagefleet:images=${JSON.stringify(images)}`);
            assert.equal(r.status, 0, r.stderr);
            assert.match(r.stdout, /^example {2}\[imagefleet:images:ImageFamily\]\n {2}warning: context ".*synth-heavy" admits node_modules\/ \(3 files, 30 B\) with no \.dockerignore/m);
        });
    });
});
