// npm run bench:commits — what `pulumi up` costs commit after commit, the way
// CI runs it: the real engine through scripts/up-local.sh (`up --skip-preview`,
// as the deploy workflow's pulumi/actions runs it), the docker-build
// provider, the local mTLS buildkitd hosts (amd64 native, arm64 under QEMU)
// and the TLS registry, in a git checkout that gets a new commit per step.
// Side by side in the same run: `docker buildx bake` of the same graph
// (`npm run bake`) on the same buildkitd hosts, joined in one buildx builder,
// through the same commits, plus the tags the stack publishes. Three
// families:
//   example   the 3-image example (both platforms), warm and wiped builders
//   monorepo  the repository root as every image's context (4 images, over a
//             thousand files, Dockerfiles under docker/dockerfiles/), warm and wiped
//   wide      32 images (dev-env, artifact, 30 runtimes), amd64 only, warm
// Every sequence has its own registry namespace, so each cold build really
// starts empty. Prints Markdown; BENCHMARKS.md keeps the latest.
//   npm run bench:commits [-- --only pulumi|bake] [--families example,monorepo,wide] [--no-wiped | --wiped monorepo,…]
//                         [--skip example:artifact,example:dev-env]   (leave those steps out)
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { monorepoImages, writeMonorepo } from "../test/fixtures/monorepo/monorepo";
import { serviceName, wideImages, writeWide } from "../test/fixtures/wide/wide";
import { changedImages, Project, ResourceStep, wipeBuilders } from "../test/e2e/project";
import { fromCache, must, parseProgress, sh, Step } from "../test/e2e/support";

const CERTS = path.join(process.env.IMAGEFLEET_STATE_DIR ?? "/var/lib/imagefleet-e2e", "buildkit", "certs");
const BAKE_BUILDER = "imagefleet-bench-bake";
const WIDE_RUNTIMES = 30;

interface Commit {
    readonly key: string;
    readonly what: string;
    readonly apply?: (p: Project) => void;
    /** Run `--expect-no-changes` on the same commit (no new commit). */
    readonly again?: boolean;
}

interface Family {
    readonly name: "example" | "monorepo" | "wide";
    readonly what: string;
    /** Prepares the checkout (stack config, generated files) before the cold build. */
    readonly setup?: (p: Project) => void;
    readonly commits: readonly Commit[];
    readonly wiped: boolean;
}

const stamp = () => `${Date.now()}`;

const FAMILIES: readonly Family[] = [
    {
        name: "example", what: "the example, 3 images × 2 platforms", wiped: true,
        commits: [
            { key: "cold", what: "(a) cold: empty builders, empty registry" },
            { key: "floor", what: "(a') the same commit again (floor)", again: true },
            { key: "nothing", what: "(b0) a commit that changes nothing", apply: (p) => p.commit("nothing") },
            { key: "docs", what: "(b) docs-only commit", apply: (p) => p.change("example/README.md", (t) => `${t}\nA line of docs (${stamp()}).\n`) },
            { key: "runtime", what: "(c) runtime Dockerfile change", apply: (p) => p.change("example/runtime.Dockerfile", (t) => t.replace("RUN /usr/local/bin/hello", `RUN /usr/local/bin/hello && echo ${stamp()} > /etc/bench`)) },
            { key: "artifact", what: "(d) artifact source change", apply: (p) => p.change("example/src/main.c", (t) => t.replace(/printf\("/, `printf("[${Date.now() % 1000}] `)) },
            { key: "dev-env", what: "(e) dev-env change", apply: (p) => p.change("example/dev-env.Dockerfile", (t) => `${t}ENV IMAGEFLEET_BENCH_TOOLCHAIN=${stamp()}\n`) },
        ],
    },
    {
        name: "monorepo", what: "a monorepo root as every image's context, 4 images × 2 platforms", wiped: true,
        setup: (p) => {
            writeMonorepo(path.join(p.dir, "monorepo"));
            p.editStackConfig((config) => {
                config["imagefleet:images"] = monorepoImages("monorepo");
                config["imagefleet:deployBranch"] = p.options.branch;
            }, "the monorepo family");
        },
        commits: [
            { key: "cold", what: "(a) cold" },
            { key: "floor", what: "(a') the same commit again (floor)", again: true },
            { key: "docs", what: "(b) docs-only commit", apply: (p) => p.change("monorepo/docs/page-5.md", (t) => `${t}More docs (${stamp()}).\n`) },
            { key: "fe-conf", what: "(c) a config file only fe copies", apply: (p) => p.change("monorepo/conf/fe/fe.conf", (t) => `${t}bench = ${stamp()}\n`) },
            { key: "artifact", what: "(d) a source the artifact compiles", apply: (p) => p.change("monorepo/be/src/main.c", (t) => t.replace(/printf\("/, `printf("[${Date.now() % 1000}] `)) },
        ],
    },
    {
        name: "wide", what: `a wide family: dev-env, artifact and ${WIDE_RUNTIMES} runtimes, amd64 only`, wiped: false,
        setup: (p) => {
            writeWide(path.join(p.dir, "wide"), WIDE_RUNTIMES);
            p.editStackConfig((config) => {
                config["imagefleet:images"] = wideImages("wide", WIDE_RUNTIMES);
                config["imagefleet:platforms"] = ["linux/amd64"];
            }, "the wide family");
        },
        commits: [
            { key: "cold", what: "(a) cold" },
            { key: "floor", what: "(a') the same commit again (floor)", again: true },
            { key: "nothing", what: "(b) a commit that changes nothing", apply: (p) => p.commit("nothing") },
            { key: "one-runtime", what: `(c) one runtime changed (${serviceName(7)})`, apply: (p) => p.change(`wide/${serviceName(7)}.Dockerfile`, (t) => `${t}ENV BENCH=${stamp()}\n`) },
        ],
    },
];

interface Measure {
    readonly seconds: number;
    /** RUN steps that executed / all RUN steps BuildKit reported. */
    readonly ran: number;
    readonly runSteps: number;
    readonly compiled: boolean;
    /** Image resources created or updated (pulumi only). */
    readonly images?: readonly string[];
    /** Every resource the update changed (pulumi only). */
    readonly changed?: readonly string[];
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

/**
 * `pulumi up` as the deploy workflow runs it: pulumi/actions' `command: up` is
 * the Automation API's `stack.up()`, which passes `--yes --skip-preview`
 * (@pulumi/pulumi automation/stack.js); the preview is the pull request's.
 */
function pulumiUp(p: Project, ...flags: string[]): Measure {
    const r = check(p.run("up", "--skip-preview", ...flags), "pulumi up");
    const steps = r.resources.flatMap((x: ResourceStep) => x.steps);
    const changed = r.resources.filter((x) => x.op !== "same" && x.op !== "read" && !x.type.startsWith("pulumi:pulumi:")).map((x) => `${x.op} ${x.name}`).sort();
    return { seconds: r.seconds, ...measureSteps(steps), images: changedImages(r.resources), changed };
}

function ensureBakeBuilder(): void {
    sh("docker", ["buildx", "rm", BAKE_BUILDER]);
    const tls = `cacert=${CERTS}/ca.pem,cert=${CERTS}/client.pem,key=${CERTS}/client-key.pem,servername=localhost`;
    must("docker", ["buildx", "create", "--name", BAKE_BUILDER, "--driver", "remote", "--driver-opt", tls, "--node", "amd64", "--platform", "linux/amd64", "tcp://127.0.0.1:1234"]);
    must("docker", ["buildx", "create", "--name", BAKE_BUILDER, "--append", "--driver", "remote", "--driver-opt", tls, "--node", "arm64", "--platform", "linux/arm64", "tcp://127.0.0.1:1235"]);
}

/**
 * The same commit through bake: the bake file `npm run bake` derives from the
 * program at this commit, then one `imagetools create` per image with the
 * commit's tags. The file's generation (an evaluation under mocks) is not timed.
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
    readonly family: Family;
    readonly tool: "pulumi" | "bake";
    readonly wiped: boolean;
    readonly results: Map<string, Measure>;
}

function runTrack(family: Family, tool: Track["tool"], wiped: boolean, id: string, skip: readonly string[]): Track {
    const name = `bench-${id}-${family.name}-${tool}-${wiped ? "wiped" : "warm"}`;
    const project = new Project({ branch: name, namespace: name });
    const track: Track = { family, tool, wiped, results: new Map() };
    try {
        family.setup?.(project);
        for (const c of family.commits.filter((x) => !skip.includes(`${family.name}:${x.key}`))) {
            if (c.again && tool === "bake") {
                track.results.set(c.key, bakeUp(project));
                continue;
            }
            c.apply?.(project);
            if (c.key === "cold" || wiped) {
                wipeBuilders();
            }
            process.stderr.write(`[bench:commits] ${name}: ${c.what} at ${project.sha.slice(0, 12)}\n`);
            track.results.set(c.key, tool === "bake" ? bakeUp(project) : c.again ? pulumiUp(project, "--expect-no-changes") : pulumiUp(project));
        }
    } finally {
        project.remove();
    }
    return track;
}

const pct = (s: number, cold: number) => `${((100 * s) / cold).toFixed(1)} %`;

function table(tracks: readonly Track[]): string {
    const out: string[] = [];
    for (const family of FAMILIES.filter((f) => tracks.some((t) => t.family === f))) {
        out.push(`### ${family.name}: ${family.what}`, "", "| commit | tool | builders | seconds | of cold | RUN steps ran / reported | compile ran | Images updated |", "|---|---|---|---|---|---|---|---|");
        for (const c of family.commits) {
            for (const t of tracks.filter((x) => x.family === family && x.results.has(c.key))) {
                const m = t.results.get(c.key)!;
                const cold = t.results.get("cold")!.seconds;
                const images = m.images ? (m.images.length === 0 ? "0" : m.images.length > 6 ? `${m.images.length}` : `${m.images.length}: ${m.images.map((n) => n.replace(/^example-/, "")).join(", ")}`) : "n/a (always all)";
                out.push(`| ${c.what} | ${t.tool === "pulumi" ? "`pulumi up` (ImageFamily)" : "`docker buildx bake` + tags"} | ${t.wiped ? "wiped" : "warm"} | ${m.seconds.toFixed(1)} | ${pct(m.seconds, cold)} | ${m.ran} / ${m.runSteps} | ${m.compiled ? "yes" : "no"} | ${images} |`);
            }
        }
        out.push("");
    }
    return out.join("\n");
}

/** The issues' acceptance lines, judged on this run's figures. */
function verdicts(tracks: readonly Track[]): string[] {
    const lines: string[] = [];
    const say = (ok: boolean, text: string) => lines.push(`- ${ok ? "PASS" : "FAIL"}: ${text}`);
    const get = (family: string, tool: string, wiped: boolean, key: string) =>
        tracks.find((t) => t.family.name === family && t.tool === tool && t.wiped === wiped)?.results.get(key);
    for (const t of tracks.filter((x) => x.tool === "pulumi")) {
        const b = `${t.family.name}, ${t.wiped ? "wiped builders" : "warm builders"}`;
        const m = (k: string) => t.results.get(k)!;
        const floor = m("floor").seconds;
        if (t.family.name === "example") {
            const docs = m("docs");
            say(docs.images!.length === 0 && docs.ran === 0 && docs.seconds <= 1.5 * floor,
                `${b}, docs-only commit: ${docs.images!.length} Images updated, ${docs.ran} steps ran, ${docs.seconds.toFixed(1)} s = ${(docs.seconds / floor).toFixed(2)}× the floor (≤ 1.5×)`);
            const rt = m("runtime");
            const limit = t.wiped ? 20 : 15;
            say(!rt.images!.some((n) => /dev-env|artifact/.test(n)) && !rt.compiled && (100 * rt.seconds) / m("cold").seconds <= limit,
                `${b}, runtime-only change: updated ${rt.images!.join(", ")}; compile ${rt.compiled ? "ran" : "did not run"}; ${pct(rt.seconds, m("cold").seconds)} of cold (≤ ${limit} %)`);
            if (t.results.has("artifact")) {
                const art = m("artifact");
                say(!art.images!.some((n) => /dev-env/.test(n)), `${b}, artifact source change: updated ${art.images!.join(", ")} (dev-env not updated)`);
            }
        }
        if (t.family.name === "monorepo") {
            const docs = m("docs");
            say(docs.images!.length === 0 && docs.seconds <= 1.5 * floor,
                `${b}, docs-only commit: ${docs.images!.length} Images updated, ${docs.seconds.toFixed(1)} s = ${(docs.seconds / floor).toFixed(2)}× the floor (≤ 1.5×)`);
            const fe = m("fe-conf");
            say(fe.images!.join(",") === "example-fe-amd64,example-fe-arm64", `${b}, fe config change: updated ${fe.images!.join(", ")} (exactly fe's 2)`);
            const art = t.results.get("artifact");
            say(art !== undefined && art.images!.includes("example-artifact-amd64") && art.images!.includes("example-artifact-arm64") && !art.images!.some((n) => /dev-env/.test(n)),
                `${b}, artifact source change: updated ${art?.images!.join(", ") ?? "(not run)"}`);
        }
        if (t.family.name === "wide") {
            const nothing = m("nothing");
            const small = get("example", "pulumi", false, "nothing");
            const bake = get("wide", "bake", false, "nothing");
            if (small) {
                say(nothing.seconds <= 2 * small.seconds, `wide family's no-change commit ${nothing.seconds.toFixed(1)} s = ${(nothing.seconds / small.seconds).toFixed(2)}× the example's ${small.seconds.toFixed(1)} s (≤ 2×)`);
            }
            if (bake) {
                say(nothing.seconds <= 0.5 * bake.seconds, `wide family's no-change commit ${nothing.seconds.toFixed(1)} s = ${(nothing.seconds / bake.seconds).toFixed(2)}× bake's ${bake.seconds.toFixed(1)} s for the same 32 targets with their tags (≤ 0.5×)`);
            }
            const one = m("one-runtime");
            const svc = serviceName(7);
            const others = one.changed!.filter((c) => !c.includes(svc) && !/ example-tags$/.test(c) && !/builder-amd64$/.test(c));
            say(one.images!.join(",") === `example-${svc}-amd64` && others.length === 0,
                `one runtime changed: Images updated ${one.images!.join(", ")}; everything else changed: ${others.length === 0 ? "nothing (its index, its attestations, the TagSet and the builder check only)" : others.join(", ")}`);
        }
    }
    return lines;
}

function main(): void {
    const args = process.argv.slice(2);
    const only = args.includes("--only") ? args[args.indexOf("--only") + 1] : undefined;
    const families = args.includes("--families") ? args[args.indexOf("--families") + 1].split(",") : FAMILIES.map((f) => f.name);
    // --wiped F,G: wiped tracks for those families only; --no-wiped: none.
    const wipedFor = args.includes("--wiped") ? args[args.indexOf("--wiped") + 1].split(",") : args.includes("--no-wiped") ? [] : FAMILIES.map((f) => f.name);
    const skip = args.includes("--skip") ? args[args.indexOf("--skip") + 1].split(",") : [];
    const id = Date.now().toString(36);
    ensureBakeBuilder();
    const tracks: Track[] = [];
    for (const family of FAMILIES.filter((f) => families.includes(f.name))) {
        for (const wiped of wipedFor.includes(family.name) && family.wiped ? [false, true] : [false]) {
            for (const tool of ["pulumi", "bake"] as const) {
                if (!only || only === tool) {
                    tracks.push(runTrack(family, tool, wiped, id, skip));
                }
            }
        }
    }
    const load = os.loadavg().map((l) => l.toFixed(1)).join(" ");
    console.log(`Run on ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC, ${os.cpus().length} cores, load average after the run ${load}.\n`);
    console.log(table(tracks));
    console.log(verdicts(tracks).join("\n"));
}

main();
