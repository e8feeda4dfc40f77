// Builds across commits, the way CI runs them: the real engine (`pulumi up`
// through scripts/up-local.sh), the docker-build provider, the local mTLS
// buildkitd hosts and the TLS registry, in a git checkout that gets a new
// commit for every step. It is also the main job's own test (once
// pulumi.spec.ts, merged here so the family's first `up`, with its supply
// chain, runs once): preview, up, the outputs against the registry, a second
// up with no changes, a one-line runtime change, and destroy keeping the images.
import { strict as assert } from "assert";
import * as crypto from "crypto";
import * as path from "path";
import { buildctl, historyRecords } from "./fleet/buildkitd";
import { changedImages, Project, ResourceStep, wipeBuilders } from "./project";
import { BUILDER_PORTS } from "./project";
import { fromCache, indexPlatforms, manifest, must, registryTags, requireEngine, sh, smallerCompile } from "./support";

const IMAGES = ["dev-env", "artifact", "runtime"];

/** Steps of an update that executed a compile (`make`) instead of taking it from a cache. */
function compiles(resources: readonly ResourceStep[]): string[] {
    return resources.flatMap((r) => r.steps.filter((s) => / RUN .*make /.test(s.name) && !fromCache(s)).map((s) => `${r.name}: ${s.name}`));
}

type Digests = Record<string, Record<string, string>>;
const digestsOf = (platformRefs: Record<string, Record<string, string>>): Digests =>
    Object.fromEntries(Object.entries(platformRefs).map(([image, refs]) =>
        [image, Object.fromEntries(Object.entries(refs).map(([p, ref]) => [p, ref.split("@")[1]]))]));

describe("builds across commits (real engine, local stack)", function () {
    this.timeout(60 * 60 * 1000);
    const id = crypto.randomBytes(4).toString("hex");
    const namespace = `e2e-commits-${id}`;
    let project: Project;
    let first: { sha: string; refs: Record<string, string>; digests: Digests };

    const ok = <T extends { code: number; stdout: string; stderr: string }>(r: T): T => {
        assert.equal(r.code, 0, `${r.stdout.slice(-6000)}\n${r.stderr.slice(-6000)}`);
        return r;
    };

    before(() => {
        requireEngine();
        project = new Project({ branch: `e2e-commits-${id}`, namespace });
        // A smaller program to compile: these tests judge which steps run, not
        // how long the compile takes (npm run bench:commits keeps the default).
        smallerCompile(project.dir);
        project.commit("a smaller compile");
    });
    after(() => project?.remove());

    it("pulumi preview of the new stack lists the family's resources", () => {
        const r = ok(project.pulumi("preview"));
        // Per image its builds and its index; the commit's and the environment's tags of every image are the family's TagSet.
        for (const name of [...IMAGES.flatMap((image) => [`example-${image}-amd64`, `example-${image}-arm64`, `example-${image}`]), "example-tags"]) {
            assert.match(r.stdout, new RegExp(`\\b${name}\\b.*create`), `${name} is not in the preview`);
        }
    });

    it("commit A: pulumi up builds both platforms on their builders and publishes <sha12> indexes whose digests are the outputs", async () => {
        ok(project.run("up"));
        const out = project.outputs();
        first = { sha: project.sha, refs: out.refs, digests: digestsOf(out.platformRefs) };
        for (const image of IMAGES) {
            assert.match(out.refs[image], new RegExp(`^registry\\.localhost:5000/${namespace}/${image}:${first.sha.slice(0, 12)}@sha256:[0-9a-f]{64}$`));
            const m = await manifest(`${namespace}/${image}`, first.sha.slice(0, 12));
            assert.equal(m.digest, out.refs[image].split("@")[1], `${image}:${first.sha.slice(0, 12)} is not the stack output`);
            assert.deepEqual(indexPlatforms(m.body), ["linux/amd64", "linux/arm64"]);
        }
        // Each platform was built by its own buildkitd: each host's history holds this namespace's builds of its arch.
        for (const arch of Object.keys(BUILDER_PORTS)) {
            assert.deepEqual([...new Set(builtOn(arch, namespace))].sort(), [...IMAGES].sort(), `the ${arch} host's build history`);
        }
    });

    it("commit B, changing nothing: no Image changes in preview or up, the same digests, and <sha12 of B> runs on amd64 and arm64", async () => {
        const sha = project.commit("a commit that changes nothing the family builds from");
        const repos = IMAGES.map((image) => `${namespace}/${image}`);
        const held = await registryTags(repos);
        const preview = ok(project.run("preview"));
        assert.deepEqual(changedImages(preview.resources), [], "the preview updates Images");
        const up = ok(project.run("up"));
        assert.deepEqual(changedImages(up.resources), [], "pulumi up updated Images");
        assert.deepEqual(up.resources.filter((r) => r.steps.length > 0).map((r) => r.name), [], "something was built");
        const out = project.outputs();
        assert.deepEqual(digestsOf(out.platformRefs), first.digests);
        for (const image of IMAGES) {
            const m = await manifest(`${namespace}/${image}`, sha.slice(0, 12));
            assert.equal(m.status, 200, `${image}:${sha.slice(0, 12)} is missing`);
            // Same content, same index: the commit's tag is an alias, not a rebuild.
            assert.equal(m.digest, first.refs[image].split("@")[1], `${image}:${sha.slice(0, 12)} is a new index`);
            const before = await manifest(`${namespace}/${image}`, first.sha.slice(0, 12));
            assert.equal(before.digest, m.digest, `${image}:${first.sha.slice(0, 12)} moved`);
        }
        for (const platform of ["linux/amd64", "linux/arm64"]) {
            const run = sh("docker", ["run", "--rm", "--pull", "always", "--platform", platform, `registry.localhost:5000/${namespace}/runtime:${sha.slice(0, 12)}`]);
            assert.equal(run.code, 0, `${platform}: ${run.stderr}`);
            assert.match(run.stdout, new RegExp(`^imagefleet-example .* arch=${platform === "linux/amd64" ? "x86_64" : "aarch64"} `), `${platform}: ${run.stdout}`);
        }
        // The stack and the family component; 12 for the family's resources (6 Images, 3 Indexes, the TagSet,
        // 2 builder checks); 12 for the supply chain (key component and key pair, component, one record per
        // per-platform digest (6) and one per index (3)).
        assert.match(ok(project.pulumi("up", "--yes", "--expect-no-changes")).stdout, /26 unchanged/);
        // Nothing already published is lost or moved: every tag held before still names its digest.
        const after = await registryTags(repos);
        const lost = [...held].filter(([tag, digest]) => after.get(tag) !== digest).map(([tag, digest]) => `${tag}: ${digest} -> ${after.get(tag) ?? "gone"}`);
        assert.deepEqual(lost, [], "tags the registry held before the no-change commit");
        assert.ok(held.size >= 3 * IMAGES.length, `too few tags to judge: ${[...held.keys()].join(", ")}`);
    });

    it("a fresh clone at another path, under umask 0002 with new mtimes: pulumi preview shows no Image change", () => {
        const clone = new Project({ from: project.dir, umask: 0o002, stateDir: project.stateDir, branch: project.options.branch });
        try {
            assert.equal(must("stat", ["-c", "%a", path.join(clone.dir, "example", "src", "main.c")]).stdout.trim(), "664");
            const preview = ok(clone.run("preview"));
            assert.deepEqual(changedImages(preview.resources), [], "a fresh clone changes Images");
            assert.ok(preview.resources.some((r) => r.type === "docker-build:index:Image"), "the preview saw no Images at all");
        } finally {
            clone.remove();
        }
    });

    it("builder caches wiped, a commit changing only the runtime: its preview and up touch only the runtime's resources, no compile step runs", () => {
        wipeBuilders();
        project.change("example/runtime.Dockerfile", (t) => t.replace("RUN /usr/local/bin/hello", `RUN /usr/local/bin/hello && echo ${id} > /etc/imagefleet-change`));
        const preview = JSON.parse(ok(project.pulumi("preview", "--json")).stdout);
        const changed = (preview.steps as { op: string; urn: string }[])
            .filter((s) => s.op !== "same" && !s.urn.includes("pulumi:pulumi:Stack"))
            .map((s) => s.urn.split("::").pop()!);
        // Besides the runtime's own resources: the builder check of each platform that now has a build to run,
        // and the family's TagSet, whose tags move to the new commit.
        const checks = changed.filter((n) => n.startsWith("example-builder-"));
        assert.deepEqual(checks.sort(), ["example-builder-amd64", "example-builder-arm64"], changed.join(", "));
        assert.ok(changed.includes("example-tags"), changed.join(", "));
        assert.deepEqual(changed.filter((n) => !n.startsWith("example-runtime") && !checks.includes(n) && n !== "example-tags"), [],
            `non-runtime resources change: ${changed.join(", ")}`);
        assert.ok(changed.includes("example-runtime-amd64") && changed.includes("example-runtime-arm64"), changed.join(", "));
        assert.match(ok(project.pulumi("preview", "--diff")).stdout, /example-runtime-amd64[\s\S]*(contextHash|dockerfile)/);
        const up = ok(project.run("up"));
        assert.deepEqual(changedImages(up.resources), ["example-runtime-amd64", "example-runtime-arm64"]);
        assert.deepEqual(compiles(up.resources), []);
        const runtime = up.resources.find((r) => r.type === "docker-build:index:Image" && r.name === "example-runtime-arm64")!;
        assert.ok(runtime.steps.some((s) => / RUN .*imagefleet-change/.test(s.name) && s.ran), "the runtime's changed step did not run");
        const digests = digestsOf(project.outputs().platformRefs);
        assert.deepEqual(digests["dev-env"], first.digests["dev-env"]);
        assert.deepEqual(digests.artifact, first.digests.artifact);
        assert.notDeepEqual(digests.runtime, first.digests.runtime);
    });

    it("the same inputs built from scratch (empty builders, no registry cache) give the same digests", () => {
        wipeBuilders();
        // Another namespace: empty repositories and cache refs, the same sources.
        const twin = new Project({ from: project.dir, branch: `e2e-twin-${id}`, namespace: `e2e-twin-${id}` });
        try {
            // What is compared is the images; signing and SBOMs (supplychain.spec.ts) would only add cosign and syft runs.
            twin.editStackConfig((config) => { delete config["imagefleet:supplychain"]; }, "no supply chain");
            const up = ok(twin.run("up"));
            // Seen once on a new machine under load: up exited 0 and the stack had no platformRefs. Show what up said.
            const outputs = twin.outputs();
            assert.ok(outputs.platformRefs, `up exited 0 but the stack's outputs are ${JSON.stringify(Object.keys(outputs))}:\n${up.stdout.slice(-8000)}\n${up.stderr.slice(-4000)}`);
            assert.deepEqual(digestsOf(outputs.platformRefs), digestsOf(project.outputs().platformRefs));
        } finally {
            twin.remove();
        }
    });

    it("pulumi destroy completes and leaves the pushed images in the registry (retain policy)", async () => {
        const out = project.outputs();
        ok(project.pulumi("destroy", "--yes"));
        for (const image of IMAGES) {
            const [, tag] = /:([0-9a-f]{12})@/.exec(out.refs[image])!;
            assert.equal((await manifest(`${namespace}/${image}`, tag)).status, 200, `${image}:${tag} was deleted`);
        }
    });
});

/** The images of `namespace` that a local builder host's BuildKit history says it pushed. */
function builtOn(arch: string, namespace: string): string[] {
    const certs = `${process.env.IMAGEFLEET_STATE_DIR ?? "/var/lib/imagefleet-e2e"}/buildkit/certs`;
    const r = buildctl(`tcp://127.0.0.1:${BUILDER_PORTS[arch]}`, { serverName: "localhost", caFile: `${certs}/ca.pem`, certFile: `${certs}/client.pem`, keyFile: `${certs}/client-key.pem` },
        "debug", "histories", "--format", "json");
    assert.equal(r.code, 0, r.out);
    // registry.localhost:5000/<namespace>/<image>:build-<12 hex>-<arch>
    return historyRecords(r.out).flatMap((record) => record.exports)
        .map((name) => new RegExp(`/${namespace}/([^/:]+):build-[0-9a-f]{12}-${arch}$`).exec(name)?.[1]).filter((n): n is string => !!n);
}
