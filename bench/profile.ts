// npm run bench:profile — where a no-change `pulumi up` of a wide family goes,
// per resource, with the real engine (issue 23). Each kind of resource a
// family declares is timed on its own, at two counts, in a stack of nothing
// else: the slope between the counts is what one more resource of that kind
// costs a no-change `pulumi up --expect-no-changes`, and the intercept is the
// engine's floor. Kinds:
//   dynamic   a dynamic-provider resource (TagSet, the attestations, BuilderCheck)
//   index     a docker-build Index (unchanged)
//   image     a docker-build Image (unchanged; its provider hashes the context)
//   program   the example program's own work per image (npm run synth of the
//             wide family at two widths, under mocks: staging, the frontend,
//             the plan, the declarations)
// Prints Markdown; BENCHMARKS.md keeps the latest. Run with nothing else on the machine.
//   npm run bench:profile [-- --rounds 3]
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { must, ROOT, sh } from "../test/e2e/support";

const REGISTRY = process.env.IMAGEFLEET_REGISTRY ?? "registry.localhost:5000";
const BUSYBOX = process.env.IMAGEFLEET_BUSYBOX_IMAGE ?? `${REGISTRY}/base/busybox:1.36`;
const COUNTS = [10, 60];

const env = (dir: string): NodeJS.ProcessEnv => ({
    PULUMI_BACKEND_URL: `file://${dir}/state`, PULUMI_CONFIG_PASSPHRASE: "profile", PULUMI_SKIP_UPDATE_CHECK: "true",
    PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
});

/** A stack of `count` resources of one kind; returns its directory, deployed once. */
function stack(kind: string, count: number, id: string): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), `imagefleet-profile-${kind}-`));
    fs.mkdirSync(path.join(dir, "state"));
    fs.writeFileSync(path.join(dir, "Pulumi.yaml"), "name: profile\nruntime:\n  name: nodejs\n  options:\n    typescript: false\n");
    fs.writeFileSync(path.join(dir, "package.json"), JSON.stringify({ name: "profile", main: "index.js" }));
    fs.symlinkSync(path.join(ROOT, "node_modules"), path.join(dir, "node_modules"));
    fs.mkdirSync(path.join(dir, "ctx"));
    fs.writeFileSync(path.join(dir, "ctx", "Dockerfile"), `FROM ${BUSYBOX}\nCOPY a /a\n`);
    fs.writeFileSync(path.join(dir, "ctx", "a"), "a");
    const program: Record<string, string> = {
        dynamic: `
const provider = { async create(i) { return { id: "x", outs: i }; }, async diff(_, o, n) { return { changes: JSON.stringify(o) !== JSON.stringify(n) }; } };
class R extends pulumi.dynamic.Resource { constructor(n, a) { super(provider, n, a, {}, "profile", "R"); } }
for (let i = 0; i < ${count}; i++) new R("r" + i, { n: i });`,
        index: `
for (let i = 0; i < ${count}; i++) new db.Index("i" + i, { tag: "${REGISTRY}/profile-${id}/index:t" + i, sources: ["${BUSYBOX}"], push: true });`,
        image: `
for (let i = 0; i < ${count}; i++) new db.Image("m" + i, { tags: ["${REGISTRY}/profile-${id}/image:t" + i], platforms: ["linux/amd64"],
    builder: { name: "imagefleet-local-amd64" }, context: { location: "ctx" }, push: true, buildArgs: { N: String(i % 2) } });`,
    };
    fs.writeFileSync(path.join(dir, "index.js"), `const pulumi = require("@pulumi/pulumi");\nconst db = require("@pulumi/docker-build");\n${program[kind]}\n`);
    must("pulumi", ["stack", "init", "p", "--non-interactive"], { cwd: dir, env: env(dir) });
    must("pulumi", ["up", "--yes", "--non-interactive", "--skip-preview"], { cwd: dir, env: env(dir) });
    return dir;
}

/** Seconds of a no-change `pulumi up` (its preview included, as CI runs it). */
function noChangeUp(dir: string): number {
    return must("pulumi", ["up", "--yes", "--non-interactive", "--expect-no-changes"], { cwd: dir, env: env(dir) }).seconds;
}

/** Seconds of `npm run synth` of the wide family at a width (the program alone, under mocks). */
function synth(runtimes: number): number {
    const images = JSON.stringify([
        { name: "dev-env", kind: "dev-env", context: "example", dockerfile: "dev-env.Dockerfile" },
        { name: "artifact", kind: "artifact", context: "example", dockerfile: "artifact.Dockerfile", from: ["dev-env"] },
        ...Array.from({ length: runtimes }, (_, i) => ({ name: `svc-${i}`, kind: "runtime", context: "example", dockerfile: "runtime.Dockerfile", from: ["artifact"] })),
    ]);
    const r = sh("npm", ["run", "synth", "--", "--stack", "local", "--config", "imagefleet:platforms=[\"linux/amd64\"]", "--config", `imagefleet:images=${images}`], { cwd: ROOT });
    if (r.code !== 0) {
        throw new Error(r.stderr);
    }
    return r.seconds;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function main(): void {
    const args = process.argv.slice(2);
    const rounds = args.includes("--rounds") ? Number(args[args.indexOf("--rounds") + 1]) : 3;
    const id = Date.now().toString(36);
    const rows: string[] = [];
    const perResource: Record<string, number> = {};
    for (const kind of ["dynamic", "index", "image"]) {
        const dirs = COUNTS.map((n) => stack(kind, n, `${id}-${n}`));
        const times = COUNTS.map(() => [] as number[]);
        for (let r = 0; r < rounds; r++) {
            dirs.forEach((d, i) => times[i].push(noChangeUp(d)));
        }
        const [lo, hi] = times.map(median);
        const slope = (hi - lo) / (COUNTS[1] - COUNTS[0]);
        perResource[kind] = slope;
        rows.push(`| ${kind} | ${lo.toFixed(1)} s | ${hi.toFixed(1)} s | ${(slope * 1000).toFixed(0)} ms | ${(lo - slope * COUNTS[0]).toFixed(1)} s |`);
        dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true }));
    }
    const widths = [3, 33];
    const synthTimes = widths.map(() => [] as number[]);
    for (let r = 0; r < rounds; r++) {
        widths.forEach((w, i) => synthTimes[i].push(synth(w)));
    }
    const [s3, s33] = synthTimes.map(median);
    perResource.program = (s33 - s3) / (widths[1] - widths[0]);
    console.log(`Run on ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC, ${os.cpus().length} cores, load average ${os.loadavg().map((l) => l.toFixed(1)).join(" ")}; median of ${rounds} rounds.\n`);
    console.log(`| kind | no-change up, ${COUNTS[0]} resources | ${COUNTS[1]} resources | per resource | intercept (the floor) |`);
    console.log("|---|---|---|---|---|");
    console.log(rows.join("\n"));
    console.log(`| program (npm run synth, per image) | ${s3.toFixed(1)} s (5 images) | ${s33.toFixed(1)} s (35 images) | ${(perResource.program * 1000).toFixed(0)} ms | |`);
    console.log(`\nper resource: ${JSON.stringify(Object.fromEntries(Object.entries(perResource).map(([k, v]) => [k, Math.round(v * 1000)])))} ms`);
}

main();
