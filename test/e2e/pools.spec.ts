// Builder pools on real hosts (issue 20): two mTLS buildkitd hosts per
// platform (test/e2e/buildkitd.sh pool start 2: the local stack's hosts plus
// one more each, same certificates), the real engine and provider, a family
// of twelve small images. Where each build ran is read from each host's own
// BuildKit history, not from what the program asked for.
import { strict as assert } from "assert";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { poolImages, POOL_IMAGES } from "../fixtures/pools/pools";
import { historyRecords } from "./fleet/buildkitd";
import { builderName, hostClientArgs, hostPort } from "./hosts";
import { changedImages, Project, UpResult } from "./project";
import { must, requireEngine, sh, sleep } from "./support";

const BUILDCTL = path.join(process.env.IMAGEFLEET_TOOLS_DIR ?? path.join(os.homedir(), ".cache", "imagefleet", "tools"), "bin", "buildctl");
const ARCHES = ["amd64", "arm64"] as const;
const PLATFORM = { amd64: "linux/amd64", arm64: "linux/arm64" } as const;
/** The hosts of `buildkitd.sh` (this lane's set, test/e2e/hosts.ts): the first of each platform, then pool hosts, two ports per index. */
const builderOf = builderName;
const pool = (arch: string, n: number) => Array.from({ length: n }, (_, i) => builderOf(i === 0 ? arch : `${arch}-${i}`));

type Placement = Record<string, Record<string, string[]>>;

/** Build (`<image>-<arch>`) → the builder the stack placed it on, from the stack's `placement` output. */
function placed(p: Placement): Map<string, string> {
    const out = new Map<string, string>();
    for (const [platform, builders] of Object.entries(p)) {
        for (const [builder, images] of Object.entries(builders)) {
            for (const image of images) {
                out.set(`${image}-${platform.split("/")[1]}`, builder);
            }
        }
    }
    return out;
}

/** Builds (`<image>-<arch>`) of this namespace that a host's BuildKit pushed, from its build history. */
function builtOn(host: string, namespace: string): Set<string> {
    const r = must(BUILDCTL, [...hostClientArgs(hostPort(host)), "--timeout", "30", "debug", "histories", "--format", "json"]);
    const out = new Set<string>();
    for (const name of historyRecords(r.stdout).flatMap((record) => record.exports)) {
        // registry.localhost:5000/<namespace>/<image>:build-<12 hex>-<arch>
        const m = new RegExp(`/${namespace}/([^/:]+):build-[0-9a-f]{12}-(amd64|arm64)$`).exec(name);
        if (m) {
            out.add(`${m[1]}-${m[2]}`);
        }
    }
    return out;
}

const text = (r: UpResult) => `${r.stdout}\n${r.stderr}`;
const LOG_DIR = process.env.IMAGEFLEET_LOG_DIR ?? "/tmp/imagefleet-logs";
/** Keeps what a command printed (in $IMAGEFLEET_LOG_DIR), for the README and for a failing run. */
function keep(name: string, r: UpResult): UpResult {
    fs.mkdirSync(LOG_DIR, { recursive: true });
    fs.writeFileSync(path.join(LOG_DIR, `pools-${name}.log`), `exit ${r.code} after ${r.seconds} s\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}\n`);
    return r;
}
const ok = (r: UpResult, what: string): UpResult => {
    assert.equal(r.code, 0, `${what} exited ${r.code}\n${r.stdout.slice(-6000)}\n${r.stderr.slice(-4000)}`);
    return r;
};
/** Image resource names (`example-svc-03-amd64`) as build keys (`svc-03-amd64`). */
const keys = (names: readonly string[]) => names.map((n) => n.replace(/^example-/, "")).sort();

describe("builder pools on real hosts (two mTLS buildkitd per platform)", function () {
    this.timeout(60 * 60 * 1000);
    const id = crypto.randomBytes(4).toString("hex");
    const namespace = `e2e-pools-${id}`;
    let project: Project;
    let two: Map<string, string>;

    const setPools = (n: number, without: readonly string[] = []) => project.editStackConfig((config) => {
        config["imagefleet:builders"] = Object.fromEntries(ARCHES.map((a) => [PLATFORM[a], pool(a, n).filter((b) => !without.includes(b))]));
    }, `pools of ${n}${without.length ? ` without ${without.join(", ")}` : ""}`);

    before(() => {
        requireEngine();
        // The local stack's two hosts and one more per platform, started here and stopped in after().
        must("bash", ["test/e2e/buildkitd.sh", "pool", "start", "2"]);
        project = new Project({ branch: `e2e-pools-${id}`, namespace });
        project.editStackConfig((config) => {
            config["imagefleet:images"] = poolImages();
            config["imagefleet:fallbackBranches"] = [`e2e-pools-${id}-main`];
            // What is judged here is where builds run; signing would only add cosign and syft runs.
            delete config["imagefleet:supplychain"];
        }, "the pools family");
        setPools(2);
    });

    after(() => {
        project?.remove();
        sh("bash", ["test/e2e/buildkitd.sh", "pool", "stop"]);
    });

    it("a cold up spreads the builds: every builder of each pool builds some, and each host's own BuildKit history holds exactly its share", () => {
        ok(keep("cold", project.run("up")), "the cold up");
        two = placed(project.outputs().placement);
        assert.equal(two.size, POOL_IMAGES * 2);
        for (const arch of ARCHES) {
            for (const [i, builder] of pool(arch, 2).entries()) {
                const expected = [...two].filter(([, b]) => b === builder).map(([k]) => k).sort();
                assert.ok(expected.length > 0, `${builder} was given no build: ${JSON.stringify([...two])}`);
                assert.ok(expected.every((k) => k.endsWith(`-${arch}`)), `${builder} was given another platform's build: ${expected.join(", ")}`);
                assert.deepEqual([...builtOn(i === 0 ? arch : `${arch}-${i}`, namespace)].sort(), expected, `what ${builder}'s BuildKit built`);
            }
        }
    });

    it("a no-change commit afterwards updates 0 Images, and every build stays on its builder", () => {
        project.commit("a commit that changes nothing");
        const up = ok(project.run("up"), "the no-change up");
        assert.deepEqual(changedImages(up.resources), []);
        assert.deepEqual([...placed(project.outputs().placement)], [...two]);
    });

    it("with one of the two amd64 hosts killed, up fails only that host's builds, naming the host and how to take it out; the rest build", () => {
        // Every build changes, so every builder is needed.
        project.editStackConfig((config) => {
            config["imagefleet:buildArgs"] = { ...(config["imagefleet:buildArgs"] as object), STAMP: `killed-${id}` };
        }, "a change every build reads");
        must("bash", ["test/e2e/buildkitd.sh", "kill", "amd64-1"]);
        const dead = builderOf("amd64-1");
        const theirs = [...two].filter(([, b]) => b === dead).map(([k]) => k).sort();
        const others = [...two].filter(([, b]) => b !== dead).map(([k]) => k).sort();
        // --continue-on-error: the engine builds whatever does not wait for the failed check.
        const up = keep("host-killed", project.run("up", "--continue-on-error"));
        assert.notEqual(up.code, 0, "up succeeded with a dead host");
        assert.match(text(up), new RegExp(`builder "${dead}" of the linux/amd64 pool failed the pre-flight check, so its ${theirs.length} builds? did not run`));
        assert.match(text(up), new RegExp(`linux/amd64: builder "${dead}" at tcp://127\\.0\\.0\\.1:${hostPort("amd64-1")} \\(driver remote\\): connection refused`));
        assert.match(text(up), /take it out of the pool: drop it from builders\["linux\/amd64"\] \(stack config: imagefleet:builders\["linux\/amd64"\], listing the pool without it\)/);
        assert.deepEqual(keys(changedImages(up.resources)), others, "the healthy hosts' builds ran, the dead host's did not");

        // Taken out of the pool: only its builds move, each to the other amd64 host.
        setPools(2, [dead]);
        const without = ok(keep("host-taken-out", project.run("up")), "the up without the dead host");
        assert.deepEqual(keys(changedImages(without.resources)), theirs);
        const moved = placed(project.outputs().placement);
        for (const [k, b] of two) {
            assert.equal(moved.get(k), b === dead ? builderOf("amd64") : b, k);
        }
    });

    it("the host back in the pool: its builds, and only they, move back", () => {
        must("bash", ["test/e2e/buildkitd.sh", "pool", "start", "2"]);
        setPools(2);
        const back = ok(project.run("up"), "the up with the host back");
        const theirs = [...two].filter(([, b]) => b === builderOf("amd64-1")).map(([k]) => k).sort();
        assert.deepEqual(keys(changedImages(back.resources)), theirs);
        assert.deepEqual([...placed(project.outputs().placement)], [...two]);
    });

    it("a host killed while its builds run: each of its failed builds is named with the host and its endpoint, no stack trace is printed, and the next up without the host converges", async () => {
        // Every build changes and holds its builder for a while, so the host dies with builds in flight.
        project.editStackConfig((config) => {
            config["imagefleet:buildArgs"] = { ...(config["imagefleet:buildArgs"] as object), STAMP: `mid-${id}`, HOLD: "12" };
        }, "every build changes, and holds");
        const dead = builderOf("amd64-1");
        const theirs = [...two].filter(([, b]) => b === dead).map(([k]) => k).sort();
        const up = project.start("up", "--yes", "--continue-on-error");
        await up.waitFor(new RegExp(`example-(${theirs.map((k) => k.replace(/-amd64$/, "")).join("|")})-amd64\\s+(updating|creating)`), 600);
        await sleep(4000);
        must("bash", ["test/e2e/buildkitd.sh", "kill", "amd64-1"]);
        const r = await up.done(900);
        const out = keep("host-killed-mid-up", { ...r, resources: [] });
        assert.notEqual(r.code, 0, "up succeeded though a host died under it");
        const named = [...text(out).matchAll(/example-(svc-\d+)-amd64 \(svc-\d+, linux\/amd64\) did not build/g)].map((m) => `${m[1]}-amd64`);
        assert.ok(named.length > 0 && named.every((k) => theirs.includes(k)), `builds named as failed: ${named.join(", ") || "none"}; the dead host had ${theirs.join(", ")}`);
        assert.match(text(out), new RegExp(`Its builder "${dead}" at tcp://127\\.0\\.0\\.1:${hostPort("amd64-1")} \\(driver remote\\) no longer answers: connection refused`));
        assert.match(text(out), /take it out of the pool: drop it from builders\["linux\/amd64"\]/);
        assert.doesNotMatch(text(out), /^\s*at .*\(.*:\d+:\d+\)\s*$|resource\.ts:\d+|unhandled exception/m, "a stack trace was printed");
        // Taken out of the pool: only its builds move, and the family converges.
        setPools(2, [dead]);
        ok(keep("host-killed-mid-up-without", project.run("up")), "the up without the dead host");
        ok(project.run("up", "--expect-no-changes"), "up --expect-no-changes");
        // Back for the next test.
        must("bash", ["test/e2e/buildkitd.sh", "pool", "start", "2"]);
        setPools(2);
        ok(project.run("up"), "the up with the host back");
        assert.deepEqual([...placed(project.outputs().placement)], [...two]);
    });

    it("a third builder per platform: every build that moved went to the new builder, and only moved builds ran", () => {
        must("bash", ["test/e2e/buildkitd.sh", "pool", "start", "3"]);
        setPools(3);
        const up = ok(project.run("up"), "the up on pools of three");
        const three = placed(project.outputs().placement);
        const moved = [...three].filter(([k, b]) => two.get(k) !== b);
        for (const arch of ARCHES) {
            const mine = moved.filter(([k]) => k.endsWith(`-${arch}`));
            assert.ok(mine.length > 0, `no ${arch} build moved to the third builder: the test proves nothing`);
            assert.deepEqual(mine.filter(([, b]) => b !== builderOf(`${arch}-2`)), [], `moved between two builders that both stay: ${JSON.stringify(mine)}`);
            const built = [...builtOn(`${arch}-2`, namespace)].sort();
            assert.deepEqual(built, mine.map(([k]) => k).sort(), `what ${builderOf(`${arch}-2`)}'s BuildKit built`);
        }
        assert.deepEqual(keys(changedImages(up.resources)), moved.map(([k]) => k).sort());
    });
});
