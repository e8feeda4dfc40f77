// npm run bench:commits — what `pulumi up` costs commit after commit, the way
// CI runs it: the real engine through scripts/up-local.sh, the docker-build
// provider, the local mTLS buildkitd hosts (amd64 native, arm64 under QEMU)
// and the TLS registry, in a git checkout that gets a new commit per step.
// Side by side in the same run: `docker buildx bake` of the same graph
// (`npm run bake`) on the same two buildkitd hosts, joined in one buildx
// builder, through the same commits. Each sequence runs twice: on warm
// builders, and with both builders' caches wiped before every step (a fresh
// CI runner). Every sequence has its own registry namespace, so each cold
// build really starts empty. Prints Markdown; BENCHMARKS.md keeps the latest.
//   npm run bench:commits [-- --only pulumi|bake] [--no-wiped]
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { changedImages, Project, ResourceStep, wipeBuilders } from "../test/e2e/project";
import { fromCache, must, parseProgress, sh, Step } from "../test/e2e/support";

const CERTS = path.join(process.env.IMAGEFLEET_STATE_DIR ?? "/var/lib/imagefleet-e2e", "buildkit", "certs");
const BAKE_BUILDER = "imagefleet-bench-bake";

interface Commit {
    readonly key: string;
    readonly what: string;
    readonly apply?: (p: Project) => void;
}

const COMMITS: readonly Commit[] = [
    { key: "cold", what: "(a) cold: empty builders, empty registry" },
    { key: "docs", what: "(b) docs-only commit", apply: (p) => p.change("example/README.md", (t) => `${t}\nA line of docs (${Date.now()}).\n`) },
    { key: "runtime", what: "(c) runtime Dockerfile change", apply: (p) => p.change("example/runtime.Dockerfile", (t) => t.replace("RUN /usr/local/bin/hello", `RUN /usr/local/bin/hello && echo ${Date.now()} > /etc/bench`)) },
    { key: "artifact", what: "(d) artifact source change", apply: (p) => p.change("example/src/main.c", (t) => t.replace(/printf\("/, `printf("[${Date.now() % 1000}] `)) },
    { key: "dev-env", what: "(e) dev-env change", apply: (p) => p.change("example/dev-env.Dockerfile", (t) => `${t}ENV IMAGEFLEET_BENCH_TOOLCHAIN=${Date.now()}\n`) },
];

interface Measure {
    readonly seconds: number;
    /** RUN steps that executed / all RUN steps BuildKit reported. */
    readonly ran: number;
    readonly runSteps: number;
    readonly compiled: boolean;
    /** Image resources created or updated (pulumi only). */
    readonly images?: readonly string[];
}

const runSteps = (steps: readonly Step[]) => steps.filter((s) => / RUN /.test(s.name));
const measureSteps = (steps: readonly Step[]) => ({
    ran: runSteps(steps).filter((s) => !fromCache(s)).length,
    runSteps: runSteps(steps).length,
    compiled: runSteps(steps).some((s) => / RUN .*make /.test(s.name) && !fromCache(s)),
});

function check<T extends { code: number; stdout: string; stderr: string }>(r: T, what: string): T {
    if (r.code !== 0) {
        throw new Error(`${what} failed (${r.code})\n${r.stdout.slice(-4000)}\n${r.stderr.slice(-4000)}`);
    }
    return r;
}

function pulumiUp(p: Project, ...flags: string[]): Measure {
    const r = check(p.run("up", ...flags), "pulumi up");
    const steps = r.resources.flatMap((x: ResourceStep) => x.steps);
    return { seconds: r.seconds, ...measureSteps(steps), images: changedImages(r.resources) };
}

function ensureBakeBuilder(): void {
    sh("docker", ["buildx", "rm", BAKE_BUILDER]);
    const tls = `cacert=${CERTS}/ca.pem,cert=${CERTS}/client.pem,key=${CERTS}/client-key.pem,servername=localhost`;
    must("docker", ["buildx", "create", "--name", BAKE_BUILDER, "--driver", "remote", "--driver-opt", tls, "--node", "amd64", "--platform", "linux/amd64", "tcp://127.0.0.1:1234"]);
    must("docker", ["buildx", "create", "--name", BAKE_BUILDER, "--append", "--driver", "remote", "--driver-opt", tls, "--node", "arm64", "--platform", "linux/arm64", "tcp://127.0.0.1:1235"]);
}

/**
 * The same commit through bake: the bake file `npm run bake` derives from the
 * program at this commit, then the indexes the stack would publish. The file's
 * generation (an evaluation under mocks) is not timed.
 */
function bakeUp(p: Project): Measure {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "imagefleet-bench-bake-")), "bake.json");
    const plan = path.join(path.dirname(file), "indexes.json");
    check(sh("npx", ["ts-node", "--transpile-only", "-e", `
        const { bakeForStack } = require("./scripts/bake");
        bakeForStack("local").then(({ bake, indexes }) => {
            require("fs").writeFileSync(${JSON.stringify(file)}, JSON.stringify(bake));
            require("fs").writeFileSync(${JSON.stringify(plan)}, JSON.stringify(indexes));
        }).catch((e) => { console.error(e); process.exit(1); });`], { cwd: p.dir }), "npm run bake");
    const start = Date.now();
    const r = check(sh("docker", ["buildx", "bake", "--builder", BAKE_BUILDER, "-f", file, "--progress=plain"], { cwd: p.dir }), "docker buildx bake");
    for (const { tags, sources } of JSON.parse(fs.readFileSync(plan, "utf8")) as { tags: string[]; sources: string[] }[]) {
        must("docker", ["buildx", "imagetools", "create", "--builder", BAKE_BUILDER, ...tags.flatMap((t) => ["-t", t]), ...sources]);
    }
    return { seconds: (Date.now() - start) / 1000, ...measureSteps(parseProgress(r.stderr)) };
}

interface Track {
    readonly tool: "pulumi" | "bake";
    readonly wiped: boolean;
    readonly results: Map<string, Measure>;
    floor?: Measure;
}

function runTrack(tool: Track["tool"], wiped: boolean, id: string): Track {
    const name = `bench-${id}-${tool}-${wiped ? "wiped" : "warm"}`;
    const project = new Project({ branch: name, namespace: name });
    const track: Track = { tool, wiped, results: new Map() };
    try {
        for (const c of COMMITS) {
            c.apply?.(project);
            if (c.key === "cold" || wiped) {
                wipeBuilders();
            }
            process.stderr.write(`[bench:commits] ${name}: ${c.what} at ${project.sha.slice(0, 12)}\n`);
            track.results.set(c.key, tool === "pulumi" ? pulumiUp(project) : bakeUp(project));
            if (c.key === "cold" && tool === "pulumi") {
                // The floor: the same commit again, nothing to do.
                track.floor = pulumiUp(project, "--expect-no-changes");
            }
        }
    } finally {
        project.remove();
    }
    return track;
}

const pct = (s: number, cold: number) => `${((100 * s) / cold).toFixed(1)} %`;

function table(tracks: readonly Track[]): string {
    const rows = ["| commit | tool | builders | seconds | of cold | RUN steps ran / reported | compile ran | Images updated |", "|---|---|---|---|---|---|---|---|"];
    for (const c of COMMITS) {
        for (const t of tracks) {
            const m = t.results.get(c.key)!;
            const cold = t.results.get("cold")!.seconds;
            rows.push(`| ${c.what} | ${t.tool === "pulumi" ? "`pulumi up` (ImageFamily)" : "`docker buildx bake`"} | ${t.wiped ? "wiped" : "warm"} | ${m.seconds.toFixed(1)} | ${pct(m.seconds, cold)} | ${m.ran} / ${m.runSteps} | ${m.compiled ? "yes" : "no"} | ${m.images ? (m.images.length === 0 ? "0" : `${m.images.length}: ${m.images.map((n) => n.replace(/^example-/, "")).join(", ")}`) : "n/a (always all 6)"} |`);
        }
    }
    const floors = tracks.filter((t) => t.floor).map((t) => `| no-change \`pulumi up --expect-no-changes\` (floor), ${t.wiped ? "wiped" : "warm"} track | ${t.floor!.seconds.toFixed(1)} s |`);
    return [...rows, "", "| floor | seconds |", "|---|---|", ...floors].join("\n");
}

/** The issue's acceptance lines, judged on this run's figures. */
function verdicts(tracks: readonly Track[]): string[] {
    const lines: string[] = [];
    const say = (ok: boolean, text: string) => lines.push(`- ${ok ? "PASS" : "FAIL"}: ${text}`);
    for (const t of tracks.filter((x) => x.tool === "pulumi")) {
        const b = t.wiped ? "wiped builders" : "warm builders";
        const get = (k: string) => t.results.get(k)!;
        const docs = get("docs");
        say(docs.images!.length === 0 && docs.ran === 0 && docs.seconds <= 1.5 * t.floor!.seconds,
            `${b}, docs-only commit: ${docs.images!.length} Images updated, ${docs.ran} steps ran, ${docs.seconds.toFixed(1)} s = ${(docs.seconds / t.floor!.seconds).toFixed(2)}× the floor (≤ 1.5×)`);
        const rt = get("runtime");
        const limit = t.wiped ? 20 : 15;
        say(!rt.images!.some((n) => /dev-env|artifact/.test(n)) && !rt.compiled && (100 * rt.seconds) / get("cold").seconds <= limit,
            `${b}, runtime-only change: updated ${rt.images!.join(", ")}; compile ${rt.compiled ? "ran" : "did not run"}; ${pct(rt.seconds, get("cold").seconds)} of cold (≤ ${limit} %)`);
        const art = get("artifact");
        say(!art.images!.some((n) => /dev-env/.test(n)), `${b}, artifact source change: updated ${art.images!.join(", ")} (dev-env not updated)`);
    }
    return lines;
}

function main(): void {
    const args = process.argv.slice(2);
    const only = args.includes("--only") ? args[args.indexOf("--only") + 1] : undefined;
    const wipedToo = !args.includes("--no-wiped");
    const id = Date.now().toString(36);
    ensureBakeBuilder();
    const tracks: Track[] = [];
    for (const wiped of wipedToo ? [false, true] : [false]) {
        for (const tool of ["pulumi", "bake"] as const) {
            if (!only || only === tool) {
                tracks.push(runTrack(tool, wiped, id));
            }
        }
    }
    const load = os.loadavg().map((l) => l.toFixed(1)).join(" ");
    console.log(`Run on ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC, ${os.cpus().length} cores, load average after the run ${load}.\n`);
    console.log(table(tracks));
    console.log("");
    console.log(verdicts(tracks).join("\n"));
}

main();
