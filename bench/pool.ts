// npm run bench:pool — what a second builder host is worth. A wide family (a
// dev-env and N images that each compile the example's program, amd64) is
// built cold by `pulumi up --skip-preview` (what the deploy workflow runs: the
// real engine through scripts/up-local.sh, the docker-build provider, the TLS
// registry) on a pool of one buildkitd host,
// then on a pool of two. Each host is a fleet host on 127.0.0.1 (the fleet's
// own buildkitd.toml and certificates, registered by the fleet's own buildx
// registration code) pinned to a CPU core of its own with taskset, so the
// ratio says what a second host of the same size buys, on any machine. The
// hosts run at nice 19: where a host shares its core with the engine, the
// provider and the registry (on a 2-core machine, every two-host run), those
// come first, as they would on machines of their own; at the default nice 0
// they were starved and the two-host runs paid for it (0.79 instead of 0.68,
// BENCHMARKS.md). Each run also reports where its time went: up to the first
// build, each host's first to last build, and after the last build.
// "Cold": every run has its own registry namespace and cache refs, and its
// compile images their own APP_VERSION, so every compile runs. The dev-env
// (an apt-get install, the same in every run) is built once on each host
// before the runs and is a cache hit in them: it is the chain every image
// waits for, the same on one host or two, and timing it would measure the
// network, not what a second host is worth. Runs alternate (one, two, two,
// one, …) so that a machine getting busier or quieter does not favour one side.
// Prints Markdown; BENCHMARKS.md keeps the latest.
//   npm run bench:pool [-- --images 16] [--functions 3500] [--runs 3] [--cpus 0,1] [--nice 19]
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { buildxProvider, RegistrationState } from "../components/builders/registration";
import { BuilderFleetArgs } from "../components/builders";
import { hostConfigOf } from "../components/builders/userData";
import { Buildkitd, buildctl, freePort, historyRecords } from "../test/e2e/fleet/buildkitd";
import { fleetPems } from "../test/e2e/fleet/certs";
import { Project } from "../test/e2e/project";

const REGISTRY = "registry.localhost:5000";
const REGISTRY_CA = process.env.IMAGEFLEET_REGISTRY_CA ?? path.join(process.env.IMAGEFLEET_STATE_DIR ?? "/var/lib/imagefleet-e2e", "registry", "tls", "ca.pem");
const BUILDERS = ["imagefleet-bench-amd64", "imagefleet-bench-amd64-1"];

interface Options { images: number; functions: number; runs: number; cpus: string[]; nice: number }

function options(argv: string[]): Options {
    const value = (flag: string, fallback: string) => (argv.includes(flag) ? argv[argv.indexOf(flag) + 1] : fallback);
    const o = { images: Number(value("--images", "16")), functions: Number(value("--functions", "3500")), runs: Number(value("--runs", "3")), cpus: value("--cpus", "0,1").split(","), nice: Number(value("--nice", "19")) };
    if (!(o.images >= 8) || !(o.functions > 0) || !(o.runs >= 1) || o.cpus.length !== 2 || !Number.isInteger(o.nice) || o.nice < 0 || o.nice > 19) {
        throw new Error("usage: npm run bench:pool [-- --images N (>= 8)] [--functions N] [--runs N] [--cpus A,B (two CPUs, one per host)] [--nice 0..19 (the hosts' niceness)]");
    }
    return o;
}

const serviceName = (i: number) => `svc-${String(i).padStart(2, "0")}`;

/** A dev-env, then `n` images that each compile the example (their own APP_VERSION, so no two share a cache entry). */
function family(n: number, functions: number, run: string) {
    return [
        { name: "dev-env", kind: "dev-env" as const, context: "example", dockerfile: "dev-env.Dockerfile" },
        ...Array.from({ length: n }, (_, i) => ({
            name: serviceName(i), kind: "artifact" as const, context: "example", dockerfile: "artifact.Dockerfile", from: ["dev-env"],
            buildArgs: { APP_VERSION: `${serviceName(i)}-${run}`, FUNCTIONS: String(functions) },
        })),
    ];
}

interface Host { readonly daemon: Buildkitd; readonly builder: string; readonly state: RegistrationState }

async function startHosts(dir: string, o: Options): Promise<Host[]> {
    const hosts: Host[] = [];
    for (const [i, builder] of BUILDERS.entries()) {
        const port = await freePort();
        const config = hostConfigOf({ port, cacheVolumeGiB: 40 } as BuilderFleetArgs, "linux/amd64");
        const hostDir = path.join(dir, builder);
        const daemon = new Buildkitd(hostDir, config, fleetPems(path.join(hostDir, "pki"), "imagefleet-bench", `imagefleet-bench-amd64-${i}`, "127.0.0.1"),
            { [REGISTRY]: [REGISTRY_CA] }, { cpus: o.cpus[i], nice: o.nice });
        await daemon.start();
        const allowed = /Cpus_allowed_list:\s*(\S+)/.exec(fs.readFileSync(`/proc/${daemon.pid}/status`, "utf8"))?.[1];
        // /proc/<pid>/stat: the 19th field is the niceness (the 2nd, the command, has no spaces here).
        const nice = Number(fs.readFileSync(`/proc/${daemon.pid}/stat`, "utf8").split(" ")[18]);
        if (allowed !== o.cpus[i] || nice !== o.nice) {
            throw new Error(`${builder}: buildkitd runs on CPUs ${allowed} at nice ${nice}, not ${o.cpus[i]} at ${o.nice}`);
        }
        const state: RegistrationState = {
            builderName: builder, platform: "linux/amd64", nodes: [{ endpoint: daemon.addr, serverName: daemon.pems.serverName }],
            caPem: daemon.pems.ca.cert, certPem: daemon.pems.client.cert, keyPem: daemon.pems.client.key,
            certDir: path.join(hostDir, "client-certs"), waitSeconds: 60,
        };
        await buildxProvider.create!(state);
        hosts.push({ daemon, builder, state });
    }
    return hosts;
}

interface Built { readonly name: string; readonly created: number; readonly completed: number }

/** Builds of this namespace a host's BuildKit pushed, from its build history, with when each ran. */
function builtOn(host: Host, namespace: string): Built[] {
    const r = buildctl(host.daemon.addr, host.daemon.fleetClient, "debug", "histories", "--format", "json");
    return historyRecords(r.out).flatMap((record) => record.exports
        .map((name) => new RegExp(`/${namespace}/([^/:]+):build-`).exec(name)?.[1]).filter((x): x is string => x !== undefined)
        .map((name) => ({ name, created: record.created, completed: record.completed })));
}

/** Where a run's time went: before the first build, each host's span from its first build to its last, after the last build. */
interface Timeline { readonly before: number; readonly spans: number[]; readonly after: number }

interface Run { readonly pool: number; readonly seconds: number; readonly perHost: number[]; readonly timeline: Timeline; readonly loadBefore: number; readonly loadAfter: number }

function timeline(started: number, ended: number, perHost: Built[][]): Timeline {
    const all = perHost.flat();
    if (all.some((b) => Number.isNaN(b.created) || Number.isNaN(b.completed))) {
        throw new Error("a build history record has no CreatedAt or CompletedAt");
    }
    const first = Math.min(...all.map((b) => b.created));
    const last = Math.max(...all.map((b) => b.completed));
    return {
        before: (first - started) / 1000,
        spans: perHost.filter((bs) => bs.length > 0).map((bs) => (Math.max(...bs.map((b) => b.completed)) - Math.min(...bs.map((b) => b.created))) / 1000),
        after: (ended - last) / 1000,
    };
}

/** `pulumi up` of the bench family in a namespace of its own; `pool`: the builders it may use. */
function upFamily(name: string, images: ReturnType<typeof family>, pool: readonly string[]): { seconds: number } {
    const project = new Project({ branch: name, namespace: name });
    try {
        project.editStackConfig((config) => {
            config["imagefleet:images"] = images;
            config["imagefleet:platforms"] = ["linux/amd64"];
            config["imagefleet:builders"] = { "linux/amd64": pool };
            config["imagefleet:fallbackBranches"] = [`${name}-main`];
            delete config["imagefleet:supplychain"];
        }, "the bench family");
        const r = project.run("up", "--skip-preview");
        if (r.code !== 0) {
            throw new Error(`pulumi up failed (${r.code})\n${r.stdout.slice(-4000)}\n${r.stderr.slice(-4000)}`);
        }
        return { seconds: r.seconds };
    } finally {
        project.remove();
    }
}

/** Empty caches, then the dev-env and one compile on each host alone (not timed): the base image and the toolchain are local everywhere. */
function warmUp(hosts: Host[], o: Options, id: string): void {
    for (const h of hosts) {
        const pruned = buildctl(h.daemon.addr, h.daemon.fleetClient, "prune", "--all");
        if (pruned.code !== 0) {
            throw new Error(`prune ${h.builder}: ${pruned.out}`);
        }
    }
    for (const h of hosts) {
        process.stderr.write(`[bench:pool] warming ${h.builder}: the dev-env and one compile (not timed)\n`);
        upFamily(`bench-pool-${id}-warm-${h.builder.slice(-1)}`, family(1, o.functions, `warm-${id}`), [h.builder]);
    }
}

function coldRun(hosts: Host[], size: number, o: Options, id: string, n: number): Run {
    const name = `bench-pool-${id}-${n}-of-${size}`;
    const project = new Project({ branch: name, namespace: name });
    try {
        project.editStackConfig((config) => {
            config["imagefleet:images"] = family(o.images, o.functions, `${id}-${n}`);
            config["imagefleet:platforms"] = ["linux/amd64"];
            config["imagefleet:builders"] = { "linux/amd64": BUILDERS.slice(0, size) };
            config["imagefleet:fallbackBranches"] = [`${name}-main`];
            delete config["imagefleet:supplychain"];
        }, "the bench family");
        const loadBefore = os.loadavg()[0];
        process.stderr.write(`[bench:pool] run ${n}: pool of ${size}, load ${loadBefore.toFixed(1)}\n`);
        const started = Date.now();
        const r = project.run("up", "--skip-preview");
        const ended = Date.now();
        if (r.code !== 0) {
            throw new Error(`pulumi up failed (${r.code})\n${r.stdout.slice(-4000)}\n${r.stderr.slice(-4000)}`);
        }
        const perHost = hosts.map((h) => builtOn(h, name));
        const built = perHost.map((bs) => bs.length);
        if (built.reduce((a, b) => a + b) !== o.images + 1) {
            throw new Error(`the hosts' histories hold ${built.join(" + ")} builds of ${name}, not ${o.images + 1}`);
        }
        return { pool: size, seconds: r.seconds, perHost: built, timeline: timeline(started, ended, perHost), loadBefore, loadAfter: os.loadavg()[0] };
    } finally {
        project.remove();
    }
}

const median = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function main(): Promise<void> {
    const o = options(process.argv.slice(2));
    const id = Date.now().toString(36);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "imagefleet-bench-pool-"));
    const hosts = await startHosts(dir, o);
    const runs: Run[] = [];
    try {
        warmUp(hosts, o, id);
        for (let rep = 0; rep < o.runs; rep++) {
            for (const size of rep % 2 === 0 ? [1, 2] : [2, 1]) {
                runs.push(coldRun(hosts, size, o, id, runs.length + 1));
            }
        }
    } finally {
        for (const h of hosts) {
            await buildxProvider.delete!(h.builder, h.state);
            await h.daemon.stop();
        }
        fs.rmSync(dir, { recursive: true, force: true });
    }
    const one = median(runs.filter((r) => r.pool === 1).map((r) => r.seconds));
    const two = median(runs.filter((r) => r.pool === 2).map((r) => r.seconds));
    const ratio = two / one;
    const cpu = os.cpus()[0]?.model ?? "unknown CPU";
    console.log(`Run on ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC, ${os.cpus().length} cores (${cpu}); `
        + `${o.images} compile images (FUNCTIONS=${o.functions}, every compile cold) plus their dev-env (cached on both hosts beforehand), linux/amd64; hosts pinned to CPUs ${o.cpus.join(" and ")} at nice ${o.nice}.\n`);
    console.log("| run | pool | `pulumi up --skip-preview`, cold (s) | builds per host | up to the first build (s) | first to last build, per host (s) | after the last build (s) | load average (1 min) before → after |");
    console.log("|---|---|---|---|---|---|---|---|");
    runs.forEach((r, i) => console.log(`| ${i + 1} | ${r.pool === 1 ? "one host" : "two hosts"} | ${r.seconds.toFixed(1)} | ${r.perHost.slice(0, r.pool).join(" / ")} `
        + `| ${r.timeline.before.toFixed(1)} | ${r.timeline.spans.map((x) => x.toFixed(1)).join(" / ")} | ${r.timeline.after.toFixed(1)} | ${r.loadBefore.toFixed(1)} → ${r.loadAfter.toFixed(1)} |`));
    console.log("");
    console.log(`- ${ratio <= 0.65 ? "PASS" : "FAIL"}: wall ratio, two hosts against one (medians ${two.toFixed(1)} s / ${one.toFixed(1)} s) = ${ratio.toFixed(2)} (target ≤ 0.65)`);
    const split = runs.find((r) => r.pool === 2)!.perHost;
    console.log(`- builds per host with two: ${split.join(" / ")} of ${o.images + 1} (the dev-env and ${o.images} compile images), as rendezvous hashing places them`);
}

main().catch((err) => {
    console.error(err);
    process.exit(1);
});
