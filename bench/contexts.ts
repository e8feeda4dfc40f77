// npm run bench:contexts — what a no-op `pulumi preview` costs as a family's
// build context grows (issue 13). The real engine (the Pulumi CLI from
// scripts/build-tools.sh), the real docker-build provider, a throwaway copy of
// the project on stacks of its own with a file backend in a temp dir, as
// scripts/up-local.sh runs it. Each case is one image (linux/amd64, push off)
// whose context is a generated tree: `pulumi up` once (a real build of a
// one-line Dockerfile on the local amd64 buildkitd), then rounds of one
// `pulumi preview --expect-no-changes` per case: a warm-up round and
// IMAGEFLEET_BENCH_RUNS counted ones (default 5), interleaved. Each preview's
// wall and CPU seconds (user + sys of the CLI, the program and the provider,
// from /usr/bin/time) are reported; CPU is what contention on a shared machine
// leaves alone. Both imagefleet (staging) and the provider (hashing the staged
// context in Diff) read the context on every preview; the family logs its
// stage time, reported as imagefleet's share.
//
// The trees hold the same bytes split differently (1k × 100 KiB, 10k × 10 KiB,
// 100k × 1 KiB) plus a large case (10k × 100 KiB), in directories of 1000
// files; each is built without an ignore file and with a
// `<Dockerfile>.dockerignore` that admits one directory (1k files). The
// "provider alone" rows declare the provider's Image on the unstaged tree,
// without imagefleet: what the provider itself makes a file, and an ignored
// file, cost.
//
// Before the e2e lock: the trees, the project copies, the stacks and a mocked
// run of the program per stack (it checks the config and stages the context).
// Under `flock /tmp/imagefleet-e2e.lock`: each stack's `up` (it builds on the
// local buildkitd) and the previews.
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { DEFAULT_STAGE_DIR } from "../components/images/contexts/stager";
import { formatBytes } from "../components/images/contexts/report";
import { evaluate } from "../scripts/harness/mocks";
import { readStackConfig } from "../scripts/harness/stackFile";
import { generateTree, removeTree } from "../test/unit/contextTree";
import { copyProjectTo, must, ROOT, sh } from "../test/e2e/support";

const LOCK = "/tmp/imagefleet-e2e.lock";
const RUNS = Number(process.env.IMAGEFLEET_BENCH_RUNS ?? 5);
const WORK = process.env.IMAGEFLEET_BENCH_DIR ?? path.join(os.tmpdir(), "imagefleet-bench-contexts");
const TOOLS = process.env.IMAGEFLEET_TOOLS_DIR ?? path.join(os.homedir(), ".cache", "imagefleet", "tools");
const BUILDER = process.env.IMAGEFLEET_BENCH_BUILDER ?? "imagefleet-local-amd64";
const KiB = 1024;
const PER_DIR = 1000;
const KEEP = "*\n!d000\n";

interface Tree { readonly name: string; readonly files: number; readonly size: number }
const TREES: readonly Tree[] = [
    { name: "one-file", files: 1, size: 1 },
    { name: "1k", files: 1_000, size: 100 * KiB },
    { name: "10k", files: 10_000, size: 10 * KiB },
    { name: "100k", files: 100_000, size: 1 * KiB },
    { name: "10k-large", files: 10_000, size: 100 * KiB },
];

interface Case { readonly tree: Tree; readonly ignore: boolean; readonly raw: boolean }
const tree = (name: string) => TREES.find((t) => t.name === name)!;
const CASES: readonly Case[] = [
    { tree: tree("one-file"), ignore: false, raw: false },
    ...TREES.slice(1).flatMap((t) => [{ tree: t, ignore: false, raw: false }, { tree: t, ignore: true, raw: false }]),
    { tree: tree("1k"), ignore: false, raw: true },
    { tree: tree("100k"), ignore: false, raw: true },
    { tree: tree("100k"), ignore: true, raw: true },
    { tree: tree("10k-large"), ignore: true, raw: true },
];
const caseId = (c: Case) => `${c.tree.name}-${c.ignore ? "kept" : "plain"}${c.raw ? "-raw" : ""}`;
/** IMAGEFLEET_BENCH_CASES=one-file-plain,1k-plain runs a subset (the table needs both of those). */
const SELECTED = CASES.filter((c) => !process.env.IMAGEFLEET_BENCH_CASES || process.env.IMAGEFLEET_BENCH_CASES.split(",").includes(caseId(c)));
const admitted = (c: Case) => (c.ignore ? Math.min(PER_DIR, c.tree.files) : c.tree.files);

function treeDir(t: Tree): string {
    return path.join(WORK, "trees", t.name);
}

/** Generates (or reuses, when its stamp matches) every tree: plain.Dockerfile has no ignore file, kept.Dockerfile admits d000/. */
function prepareTrees(): void {
    for (const t of TREES.filter((t) => SELECTED.some((c) => c.tree === t))) {
        const dir = treeDir(t);
        const stamp = `${dir}.json`;
        if (fs.existsSync(stamp) && fs.readFileSync(stamp, "utf8") === JSON.stringify(t)) {
            continue;
        }
        removeTree(dir);
        const started = Date.now();
        const dirs: Record<string, { files: number; size: number }> = {};
        for (let i = 0; i * PER_DIR < t.files; i++) {
            dirs[`d${String(i).padStart(3, "0")}`] = { files: Math.min(PER_DIR, t.files - i * PER_DIR), size: t.size };
        }
        const dockerfile = "FROM scratch\nLABEL dev.imagefleet.bench=contexts\n";
        generateTree(dir, dirs, { extra: { "plain.Dockerfile": dockerfile, "kept.Dockerfile": dockerfile, "kept.Dockerfile.dockerignore": KEEP } });
        fs.writeFileSync(stamp, JSON.stringify(t));
        console.error(`[bench] generated ${t.name}: ${t.files} files × ${formatBytes(t.size)} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    }
}

/** The provider's Image alone on the unstaged tree: no imagefleet in the preview. */
function rawProject(into: string): string {
    const dir = path.join(into, "raw");
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, "Pulumi.yaml"), "name: bench-raw\nruntime:\n  name: nodejs\n  options:\n    typescript: true\nmain: index.ts\n");
    fs.writeFileSync(path.join(dir, "index.ts"), [
        'import * as pulumi from "@pulumi/pulumi";',
        'import * as dockerbuild from "@pulumi/docker-build";',
        "const config = new pulumi.Config();",
        'new dockerbuild.Image("raw", {',
        '    context: { location: config.require("context") },',
        '    dockerfile: { location: config.require("dockerfile") },',
        '    platforms: ["linux/amd64"], builder: { name: config.require("builder") }, push: false, buildOnPreview: false,',
        "});",
        "",
    ].join("\n"));
    fs.symlinkSync(path.join(ROOT, "node_modules"), path.join(dir, "node_modules"));
    return dir;
}

function stackConfig(c: Case): string {
    const dockerfile = c.ignore ? "kept.Dockerfile" : "plain.Dockerfile";
    if (c.raw) {
        return `config:\n  bench-raw:context: ${treeDir(c.tree)}\n  bench-raw:dockerfile: ${path.join(treeDir(c.tree), dockerfile)}\n  bench-raw:builder: ${BUILDER}\n`;
    }
    const images = [{ name: "ctx", kind: "runtime", context: treeDir(c.tree), dockerfile }];
    return [
        "config:",
        "  imagefleet:registry: {\"address\": \"registry.localhost:5000\", \"namespace\": \"bench-contexts\"}",
        "  imagefleet:platforms: [\"linux/amd64\"]",
        `  imagefleet:builders: {"linux/amd64": "${BUILDER}"}`,
        "  imagefleet:push: false",
        "  imagefleet:cacheWrite: false",
        "  imagefleet:gitBranch: bench-contexts",
        `  imagefleet:gitSha: "${"b".repeat(40)}"`,
        `  imagefleet:images: ${JSON.stringify(JSON.stringify(images))}`,
        "",
    ].join("\n");
}

interface Result {
    readonly id: string;
    readonly c: Case;
    /** Seconds of the `up` that made the previews no-ops. */
    up: number;
    /** Wall seconds of each counted preview. */
    readonly previews: number[];
    /** CPU seconds (user + sys) of each counted preview's whole process tree: the CLI, the program, the provider. */
    readonly cpu: number[];
    /** Seconds imagefleet spent staging, as the family logged them (0 for raw cases). */
    readonly staged: number[];
}

const median = (xs: readonly number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

interface Setup {
    readonly tmp: string;
    readonly env: NodeJS.ProcessEnv;
    readonly project: string;
    readonly raw: string;
}

const stackOf = (c: Case) => `bench-${caseId(c)}`;

/**
 * Everything that needs no engine or builder, before the lock: the project
 * copies, the stacks (file backend, passphrase), their config, and a mocked
 * run of the program on each family stack. That run checks the config and
 * stages the context (the copy of 100k files), so the hold covers only the
 * `up` and the previews.
 */
async function setUp(): Promise<Setup> {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "imagefleet-bench-engine-"));
    const env: NodeJS.ProcessEnv = {
        PATH: `${path.join(TOOLS, "bin")}:${process.env.PATH}`,
        PULUMI_BACKEND_URL: `file://${fs.mkdtempSync(path.join(tmp, "state-"))}`,
        PULUMI_CONFIG_PASSPHRASE: "imagefleet-bench",
        PULUMI_SKIP_UPDATE_CHECK: "true",
        PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
        // As scripts/up-local.sh and the workflows run the program.
        PULUMI_NODEJS_TRANSPILE_ONLY: "true",
    };
    const setup = { tmp, env, project: copyProjectTo(path.join(tmp, "project")), raw: rawProject(tmp) };
    for (const c of SELECTED) {
        const cwd = c.raw ? setup.raw : setup.project;
        const stack = stackOf(c);
        must("pulumi", ["stack", "init", stack, "--secrets-provider", "passphrase"], { cwd, env });
        const file = c.raw ? path.join(cwd, `Pulumi.${stack}.yaml`) : path.join(cwd, "stacks", `Pulumi.${stack}.yaml`);
        const salt = fs.existsSync(file) ? fs.readFileSync(file, "utf8").split("\n").filter((l) => l.startsWith("encryptionsalt:")) : [];
        fs.writeFileSync(file, [...salt, stackConfig(c)].join("\n"));
        if (!c.raw) {
            const started = Date.now();
            const home = process.cwd();
            process.chdir(cwd);
            try {
                await evaluate({ stack, config: readStackConfig(stack, cwd).config, program: path.join(cwd, "index.ts") });
            } finally {
                process.chdir(home);
            }
            console.error(`[bench] ${stack}: config checked and context staged under mocks in ${((Date.now() - started) / 1000).toFixed(1)} s`);
        }
    }
    return setup;
}

/** Runs pulumi under /usr/bin/time: wall seconds and the CPU seconds of everything it waited for. */
function timed(c: Case, setup: Setup, args: readonly string[]): { wall: number; cpu: number; stdout: string } {
    const cwd = c.raw ? setup.raw : setup.project;
    const r = must("/usr/bin/time", ["-f", "TIME %e %U %S", "pulumi", ...args, "--stack", stackOf(c)], { cwd, env: setup.env });
    const t = /TIME ([\d.]+) ([\d.]+) ([\d.]+)\s*$/.exec(r.stderr);
    if (!t) {
        throw new Error(`no timing from /usr/bin/time:\n${r.stderr.slice(-2000)}`);
    }
    return { wall: Number(t[1]), cpu: Number(t[2]) + Number(t[3]), stdout: r.stdout };
}

/**
 * Every stack's `up`, then rounds of one no-op preview per stack (the first
 * round a warm-up): interleaved, so a busy minute on this shared machine
 * slows every case a little instead of one case a lot.
 */
function measure(cases: readonly Case[], setup: Setup): Result[] {
    const results: Result[] = cases.map((c) => ({ id: caseId(c), c, up: 0, previews: [], cpu: [], staged: [] }));
    for (const r of results) {
        r.up = timed(r.c, setup, ["up", "--yes", "--skip-preview"]).wall;
    }
    for (let round = 0; round <= RUNS; round++) {
        for (const r of results) {
            const p = timed(r.c, setup, ["preview", "--expect-no-changes"]);
            const stage = /staged in ([\d.]+) s/.exec(p.stdout);
            if (!r.c.raw && !stage) {
                throw new Error(`${r.id}: the preview logged no context line:\n${p.stdout.slice(-3000)}`);
            }
            if (round > 0) {
                r.previews.push(p.wall);
                r.cpu.push(p.cpu);
                r.staged.push(stage ? Number(stage[1]) : 0);
            }
        }
        console.error(`[bench] round ${round}${round === 0 ? " (warm-up)" : ""} done`);
    }
    for (const r of results) {
        console.error(`[bench] ${r.id}: up ${r.up.toFixed(1)} s; previews ${r.previews.join(" ")} s; cpu ${r.cpu.map((x) => x.toFixed(2)).join(" ")} s; staged ${r.staged.join(" ")} s`);
    }
    return results;
}

function table(results: readonly Result[]): string {
    const find = (id: string) => results.find((r) => r.id === id);
    const fmt = (x: number) => x.toFixed(2);
    const lines = [
        "| context (files × size) | ignore file | admitted files | admitted bytes | wall s, median (min–max) | ratio to 1k | CPU s, median | CPU above the reference s | imagefleet stage s |",
        "|---|---|---|---|---|---|---|---|---|",
    ];
    for (const r of results) {
        // The reference: the 1-file family for the family rows, the provider alone on 1k files for the raw ones.
        const ref = find(r.c.raw ? "1k-plain-raw" : "one-file-plain");
        const k1 = find(r.c.raw ? "1k-plain-raw" : "1k-plain");
        const wall = median(r.previews);
        const what = r.c.tree.files === 1 ? "1 file" : `${r.c.tree.files.toLocaleString("en-US")} × ${formatBytes(r.c.tree.size)}`;
        lines.push(`| ${what}${r.c.raw ? ", provider alone (unstaged)" : ""} | ${r.c.ignore ? "admits d000/ (1k)" : "none"} `
            + `| ${admitted(r.c).toLocaleString("en-US")} | ${formatBytes(admitted(r.c) * r.c.tree.size)} `
            + `| ${fmt(wall)} (${fmt(Math.min(...r.previews))}–${fmt(Math.max(...r.previews))}) | ${k1 ? (wall / median(k1.previews)).toFixed(2) : "—"} `
            + `| ${fmt(median(r.cpu))} | ${ref ? fmt(median(r.cpu) - median(ref.cpu)) : "—"} | ${r.c.raw ? "—" : fmt(median(r.staged))} |`);
    }
    return lines.join("\n");
}

/** Under the lock: `up` and the previews of every case, then the table. */
function engine(setup: Setup): void {
    // As scripts/up-local.sh: the engine and the builders, started if a previous holder left them down.
    if (sh("docker", ["info"]).code !== 0) {
        must("bash", [path.join(ROOT, "test", "e2e", "setup.sh")]);
    }
    must("bash", [path.join(ROOT, "test", "e2e", "buildkitd.sh"), "start"]);
    const results = measure(SELECTED, setup);
    const pulumiVersion = sh("pulumi", ["version"], { env: setup.env }).stdout.trim();
    console.log(`${new Date().toISOString().slice(0, 10)}, ${os.cpus().length} cores (${os.cpus()[0]?.model ?? "?"}), ${Math.round(os.totalmem() / 2 ** 30)} GiB, `
        + `load average ${os.loadavg()[0].toFixed(1)} at the end; Pulumi CLI ${pulumiVersion}, docker-build provider 0.0.22; ${RUNS} counted previews per case after a warm-up`);
    console.log("");
    console.log(table(results));
    fs.writeFileSync(path.join(WORK, "results.json"), JSON.stringify(results, null, 2));
}

async function main(): Promise<void> {
    fs.mkdirSync(WORK, { recursive: true });
    const state = process.env.IMAGEFLEET_BENCH_SETUP;
    if (state) {
        engine(JSON.parse(fs.readFileSync(state, "utf8")) as Setup);
        return;
    }
    prepareTrees();
    const setup = await setUp();
    let status: number | null;
    try {
        const file = path.join(setup.tmp, "setup.json");
        fs.writeFileSync(file, JSON.stringify(setup));
        console.error(`[bench] waiting for ${LOCK}`);
        const r = spawnSync("flock", [LOCK, process.execPath, "-r", "ts-node/register/transpile-only", __filename], {
            stdio: "inherit", env: { ...process.env, IMAGEFLEET_BENCH_SETUP: file },
        });
        status = r.status;
    } finally {
        for (const c of SELECTED.filter((c) => !c.raw)) {
            fs.rmSync(path.join(ROOT, DEFAULT_STAGE_DIR, stackOf(c)), { recursive: true, force: true });
        }
        fs.rmSync(setup.tmp, { recursive: true, force: true });
        if (process.env.IMAGEFLEET_BENCH_KEEP_TREES !== "1") {
            TREES.forEach((t) => {
                removeTree(treeDir(t));
                fs.rmSync(`${treeDir(t)}.json`, { force: true });
            });
        }
    }
    process.exit(status ?? 1);
}

main().catch((err) => {
    console.error(err);
    process.exit(1);
});
