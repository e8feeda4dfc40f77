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
//                         [--attestors]   (the hosts attest: `buildkitd.sh attestors start`, the stack trusts
//                                          their keys, and each up is followed by a wait until every new
//                                          platform manifest is attested, reported per commit)
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { monorepoImages, writeMonorepo } from "../test/fixtures/monorepo/monorepo";
import { serviceName, wideImages, writeWide } from "../test/fixtures/wide/wide";
import { attestorKeys, attestorPub, builderName, verifyAttestation } from "../test/e2e/hosts";
import { changedImages, Project, ResourceStep, wipeBuilders } from "../test/e2e/project";
import { fromCache, must, parseProgress, sh, Step } from "../test/e2e/support";

const STATE_DIR = process.env.IMAGEFLEET_STATE_DIR ?? "/var/lib/imagefleet-e2e";
const CERTS = path.join(STATE_DIR, "buildkit", "certs");
const ARCHES = ["amd64", "arm64"] as const;
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
    /** With --attestors: seconds from the end of up until the host had signed each new platform manifest. */
    readonly attested?: readonly number[];
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
function pulumiUp(p: Project, attesting: Attesting | undefined, ...flags: string[]): Measure {
    const r = check(p.run("up", "--skip-preview", ...flags), "pulumi up");
    const ended = Date.now();
    const steps = r.resources.flatMap((x: ResourceStep) => x.steps);
    const changed = r.resources.filter((x) => x.op !== "same" && x.op !== "read" && !x.type.startsWith("pulumi:pulumi:")).map((x) => `${x.op} ${x.name}`).sort();
    const attested = attesting ? waitForAttestors(p, attesting, ended) : undefined;
    return { seconds: r.seconds, ...measureSteps(steps), images: changedImages(r.resources), changed, attested };
}

// --- The hosts' attestors (--attestors) ----------------------------------------

/** What a pulumi track's hosts have attested so far: subject → the host key that must verify it. */
interface Attesting {
    readonly subjects: Map<string, string>;
}

const attestorState = (arch: string, file: string) => path.join(STATE_DIR, "buildkit", arch, "attestor", "state", file);
const sleepSync = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

function startAttestors(): void {
    must("bash", ["test/e2e/buildkitd.sh", "attestors", "start"]);
}

/** The stack trusts each host's key for what that host builds, so `up` leaves the platform records to the hosts. */
function trustAttestors(p: Project): void {
    p.editStackConfig((config) => {
        const sc = config["imagefleet:supplychain"] as Record<string, unknown>;
        config["imagefleet:supplychain"] = { ...sc, attestors: attestorKeys() };
    }, "the hosts attest");
}

interface Entry { readonly subject: string; readonly time: string; readonly error?: string }
const entries = (arch: string, file: string): Entry[] => {
    const f = attestorState(arch, file);
    return fs.existsSync(f) ? fs.readFileSync(f, "utf8").split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l)) : [];
};

/**
 * Waits (reading the attestors' own records, which costs the machine nothing)
 * until every platform manifest this up published and no earlier commit had is
 * signed by its host; returns, per manifest, the seconds from the end of up
 * until the attestor recorded its signed push (0 when it was done before up
 * ended). Each is verified with cosign at the end of the track.
 */
function waitForAttestors(p: Project, attesting: Attesting, ended: number): number[] {
    const outputs = p.outputs();
    const refs = outputs.refs as Record<string, string>;
    const by = outputs.supplychain.attestedBy as Record<string, Record<string, { builder: string; digest: string }>>;
    const wanted = new Map<string, string>();
    for (const [image, platforms] of Object.entries(by)) {
        const repository = refs[image].slice(0, refs[image].indexOf("@")).replace(/:[^/]*$/, "");
        for (const a of Object.values(platforms)) {
            const subject = `${repository}@${a.digest}`;
            const arch = ARCHES.find((x) => builderName(x) === a.builder);
            if (!arch) {
                throw new Error(`${image}: attested by ${a.builder}, which is not one of this bench's hosts (${ARCHES.map(builderName).join(", ")})`);
            }
            if (!attesting.subjects.has(subject)) {
                wanted.set(subject, arch);
            }
        }
    }
    const seconds: number[] = [];
    for (const deadline = Date.now() + 15 * 60 * 1000; wanted.size > 0; sleepSync(1000)) {
        for (const arch of ARCHES) {
            for (const e of entries(arch, "attested.jsonl").filter((x) => wanted.get(x.subject) === arch)) {
                seconds.push(Math.max(0, (Date.parse(e.time) - ended) / 1000));
                wanted.delete(e.subject);
                attesting.subjects.set(e.subject, attestorPub(arch));
            }
            const failed = entries(arch, "failed.jsonl").find((x) => wanted.get(x.subject) === arch);
            if (failed) {
                throw new Error(`the attestor of ${arch} gave up on ${failed.subject}: ${failed.error} (log: ${path.join(STATE_DIR, "buildkit", arch, "attestor.log")})`);
            }
        }
        if (wanted.size > 0 && Date.now() > deadline) {
            throw new Error(`not attested 15 minutes after up: ${[...wanted.keys()].join(", ")} (logs: ${STATE_DIR}/buildkit/<arch>/attestor.log)`);
        }
    }
    return seconds;
}

/**
 * Until no attestor has run cosign or syft for 5 s: what the hosts sign after
 * one step must not slow the next, for either tool (bake's pushes are attested
 * too, and on the same 2 cores).
 */
function waitForQuietAttestors(): void {
    for (let quiet = 0; quiet < 10; sleepSync(500)) {
        quiet = sh("pgrep", ["-x", "cosign|syft"]).code === 0 ? 0 : quiet + 1;
    }
}

/** Every subject the track's hosts attested, checked as a user would: cosign, the host's public key, both predicate types. */
function verifyAttested(attesting: Attesting): void {
    for (const [subject, key] of attesting.subjects) {
        for (const type of ["slsaprovenance1", "spdxjson"] as const) {
            check(verifyAttestation(key, type, subject), `cosign verify-attestation --type ${type} ${subject}`);
        }
    }
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
    /** With --attestors: how many platform manifests the hosts attested, each verified with cosign. */
    verified?: number;
}

function runTrack(family: Family, tool: Track["tool"], wiped: boolean, id: string, skip: readonly string[], attestors: boolean): Track {
    const name = `bench-${id}-${family.name}-${tool}-${wiped ? "wiped" : "warm"}`;
    const project = new Project({ branch: name, namespace: name });
    const track: Track = { family, tool, wiped, results: new Map() };
    const attesting: Attesting | undefined = attestors && tool === "pulumi" ? { subjects: new Map() } : undefined;
    try {
        family.setup?.(project);
        if (attesting) {
            trustAttestors(project);
        }
        for (const c of family.commits.filter((x) => !skip.includes(`${family.name}:${x.key}`))) {
            if (c.again && tool === "bake") {
                track.results.set(c.key, bakeUp(project));
                if (attestors) {
                    waitForQuietAttestors();
                }
                continue;
            }
            c.apply?.(project);
            if (c.key === "cold" || wiped) {
                wipeBuilders();
            }
            process.stderr.write(`[bench:commits] ${name}: ${c.what} at ${project.sha.slice(0, 12)}\n`);
            track.results.set(c.key, tool === "bake" ? bakeUp(project) : c.again ? pulumiUp(project, attesting, "--expect-no-changes") : pulumiUp(project, attesting));
            if (attestors) {
                waitForQuietAttestors();
            }
        }
        if (attesting) {
            verifyAttested(attesting);
            track.verified = attesting.subjects.size;
        }
    } finally {
        project.remove();
    }
    return track;
}

const pct = (s: number, cold: number) => `${((100 * s) / cold).toFixed(1)} %`;

/** Median and max of a non-empty list of seconds. */
function medianMax(values: readonly number[]): { median: string; max: string } {
    const sorted = [...values].sort((a, b) => a - b);
    return { median: sorted[Math.floor(sorted.length / 2)].toFixed(1), max: sorted[sorted.length - 1].toFixed(1) };
}

/** Median and max of the seconds until the hosts had attested, or what there was to wait for. */
function attestedCell(m: Measure): string {
    if (!m.attested) {
        return "n/a";
    }
    if (m.attested.length === 0) {
        return "nothing new";
    }
    const { median, max } = medianMax(m.attested);
    return `${median} / ${max} (${m.attested.length})`;
}

function table(tracks: readonly Track[]): string {
    const out: string[] = [];
    const attesting = tracks.some((t) => t.verified !== undefined);
    for (const family of FAMILIES.filter((f) => tracks.some((t) => t.family === f))) {
        out.push(`### ${family.name}: ${family.what}`, "",
            `| commit | tool | builders | seconds | of cold | RUN steps ran / reported | compile ran | Images updated |${attesting ? " attested after up: median / max s (manifests) |" : ""}`,
            `|---|---|---|---|---|---|---|---|${attesting ? "---|" : ""}`);
        for (const c of family.commits) {
            for (const t of tracks.filter((x) => x.family === family && x.results.has(c.key))) {
                const m = t.results.get(c.key)!;
                const cold = t.results.get("cold")!.seconds;
                const images = m.images ? (m.images.length === 0 ? "0" : m.images.length > 6 ? `${m.images.length}` : `${m.images.length}: ${m.images.map((n) => n.replace(/^example-/, "")).join(", ")}`) : "n/a (always all)";
                out.push(`| ${c.what} | ${t.tool === "pulumi" ? "`pulumi up` (ImageFamily)" : "`docker buildx bake` + tags"} | ${t.wiped ? "wiped" : "warm"} | ${m.seconds.toFixed(1)} | ${pct(m.seconds, cold)} | ${m.ran} / ${m.runSteps} | ${m.compiled ? "yes" : "no"} | ${images} |${attesting ? ` ${attestedCell(m)} |` : ""}`);
            }
        }
        for (const t of tracks.filter((x) => x.family === family && x.verified !== undefined)) {
            const all = [...t.results.values()].flatMap((m) => m.attested ?? []);
            const spread = all.length ? ((m) => `: from the end of up, median ${m.median} s, max ${m.max} s`)(medianMax(all)) : "";
            out.push("", `${t.family.name} (${t.wiped ? "wiped" : "warm"}): ${t.verified} platform manifests attested by their hosts${spread}; each one's provenance and SBOM verified with \`cosign verify-attestation --key <host key>\`.`);
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
    // Issue 30: with the hosts attesting, up against bake on the same commit.
    for (const [family, key, limit, what] of [["example", "runtime", 1.2, "the example's runtime-only change"], ["wide", "cold", 1.4, "the wide family's cold build"]] as const) {
        const up = get(family, "pulumi", false, key);
        const bake = get(family, "bake", false, key);
        if (up?.attested && bake) {
            say(up.seconds <= limit * bake.seconds, `hosts attesting, ${what}: \`pulumi up\` ${up.seconds.toFixed(1)} s = ${(up.seconds / bake.seconds).toFixed(2)}× bake's ${bake.seconds.toFixed(1)} s with its tags (≤ ${limit}×)`);
        }
    }
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
    const attestors = args.includes("--attestors");
    const id = Date.now().toString(36);
    ensureBakeBuilder();
    if (attestors) {
        startAttestors();
    }
    const tracks: Track[] = [];
    try {
        for (const family of FAMILIES.filter((f) => families.includes(f.name))) {
            for (const wiped of wipedFor.includes(family.name) && family.wiped ? [false, true] : [false]) {
                for (const tool of ["pulumi", "bake"] as const) {
                    if (!only || only === tool) {
                        tracks.push(runTrack(family, tool, wiped, id, skip, attestors));
                    }
                }
            }
        }
    } finally {
        // The local stack and the e2e main lane sign deployer-side on these hosts.
        if (attestors) {
            sh("bash", ["test/e2e/buildkitd.sh", "attestors", "stop"]);
        }
    }
    const load = os.loadavg().map((l) => l.toFixed(1)).join(" ");
    console.log(`Run on ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC, ${os.cpus().length} cores, load average after the run ${load}.\n`);
    console.log(table(tracks));
    console.log(verdicts(tracks).join("\n"));
}

main();
