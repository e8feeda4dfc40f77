// Faults, for real: the Pulumi engine (scripts/up-local.sh), the docker-build
// provider, the local buildkitd hosts and the registry, each broken in the
// middle of a `pulumi up`. After each fault the test repairs what it broke,
// reruns, and asserts convergence: the rerun succeeds, `up --expect-no-changes`
// passes, and every tag the registry held just before the fault still resolves
// to the same digest unless the stack itself now publishes it (a moving alias),
// with nothing pointing at a half-written index.
//
// Each test works on its own copy of the project and its own file backend
// (forked from one baseline stack, so only the runtime step reruns) and
// publishes a fresh random commit. The example's compile is shrunk with its
// FUNCTIONS build arg, and a runtime step that sleeps FAULT_SLEEP seconds
// (keyed on a per-test FAULT_NONCE) holds the build open for the fault, once
// per host: the rerun after it builds at once.
import { strict as assert } from "assert";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Buildkitd, buildctl, freePort } from "./fleet/buildkitd";
import { fleetPems } from "./fleet/certs";
import { BuilderFleetArgs } from "../../components/builders";
import { hostConfigOf } from "../../components/builders/userData";
import { manifest, must, mustDetached, processTree, registryTags, requireEngine, ROOT, sh, sleep, tags } from "./support";
import { builderName, hostPort } from "./hosts";
import { assertConverged, CACHE_REPOS, CERTS, IMAGES, keep, ok, REGISTRY_DATA, REGISTRY_PID, registryUp, REPOS, restoreServices, RUN_ID, SLEEP, Stack, text } from "./faults/stack";

describe("faults during pulumi up (real engine, buildkitd hosts and registry)", function () {
    this.timeout(20 * 60 * 1000);
    let base: Stack;
    let cacheAtStart = new Map<string, string>();
    const impostorDir = fs.mkdtempSync(path.join(os.tmpdir(), "imagefleet-faults-impostor-"));
    let impostor: Buildkitd | undefined;
    const IMPOSTOR_BUILDER = `imagefleet-faults-stranger-${RUN_ID}`;

    before(async () => {
        requireEngine();
        assert.equal(sh("bash", ["-c", "command -v pulumi"]).code, 0, "pulumi is not on PATH (scripts/build-tools.sh)");
        await restoreServices();
        cacheAtStart = await registryTags(CACHE_REPOS);
    });

    afterEach(async () => {
        await restoreServices();
    });

    after(async () => {
        sh("docker", ["buildx", "rm", IMPOSTOR_BUILDER]);
        await impostor?.stop();
        fs.rmSync(impostorDir, { recursive: true, force: true });
    });

    it("pulumi about runs with the upstream nodejs language host", () => {
        const s = new Stack();
        const r = ok(s.pulumi("about"), "pulumi about");
        const cli = /CLI\s*\nVersion\s+(\S+)/.exec(r.stdout)?.[1];
        assert.equal(`v${cli}`, must("pulumi", ["version"]).stdout.trim(), r.stdout);
        // The host answers GetPluginInfo with the sdk/v3 version it was built from,
        assert.match(r.stdout, /^language\s+nodejs\s+3\.68\.0\s*$/m, r.stdout);
        // and GetProgramDependencies from the project's package-lock.json.
        const sdk = JSON.parse(fs.readFileSync(path.join(ROOT, "node_modules", "@pulumi", "pulumi", "package.json"), "utf8")).version;
        assert.match(r.stdout, new RegExp(`^@pulumi/pulumi\\s+${sdk.replace(/\./g, "\\.")}\\s*$`, "m"), r.stdout);
        assert.match(r.stdout, /Found no pending operations/);
    });

    it("baseline: a first pulumi up publishes a commit that every fault below must leave intact", async () => {
        base = new Stack();
        ok(base.pulumi("up", "--yes"), "baseline up");
        const published = base.published();
        for (const repo of REPOS) {
            assert.ok([...published.keys()].some((t) => t.startsWith(`${repo}:`)), `nothing of ${repo} published`);
        }
    });

    it("with every builder down, a commit that builds nothing succeeds, pulumi preview still works, and a build fails at once naming each builder, platform and endpoint", async () => {
        const s = new Stack({}, base);
        // Every resource but the providers and the stack's read of its own previous outputs: the
        // engine records the new stack config on the default providers, and the read what it read,
        // before any resource runs; neither changes anything that was built.
        const resources = () => JSON.stringify(s.exportState().deployment.resources
            .filter((r: { type: string }) => !r.type.startsWith("pulumi:providers:") && r.type !== "pulumi:pulumi:StackReference"));
        const state = resources();
        must("bash", ["test/e2e/buildkitd.sh", "stop"]);
        // A new commit whose builds are the baseline's: only indexes move, no builder is asked to build.
        const tagsOnly = new Stack({ nonce: base.nonce }, base);
        const moved = keep("builders-down-nothing-to-build", ok(tagsOnly.pulumi("up", "--yes"), "a commit that builds nothing, every builder down"));
        assert.match(text(moved), /2 of 2 builders failed the pre-flight check: builds on them will fail; unchanged builds need no builder/);
        assert.doesNotMatch(text(moved), /BuilderCheck.*(update|create)/);
        // What the registry holds now, the tags-only commit's indexes included: the failing up below must not change it.
        const before = await registryTags(REPOS);
        const preview = ok(s.pulumi("preview", "--diff"), "pulumi preview with every builder down");
        assert.match(preview.stdout, /example-runtime-arm64/);
        assert.match(preview.stdout, /example-runtime-amd64/);
        const up = keep("builders-down", s.pulumi("up", "--yes"));
        assert.notEqual(up.code, 0, "pulumi up with every builder down succeeded");
        assert.ok(up.seconds < 60, `the pre-flight took ${up.seconds} s`);
        // One check per platform stops that platform's builds: one error each in the update's
        // diagnostics (the last; progress lines repeat them, the preview's come first).
        const diagnostics = up.stdout.slice(up.stdout.lastIndexOf("\nDiagnostics:"));
        assert.equal(diagnostics.match(/ImageFamily "example" \(stack "local"\): 1 of 1 builder failed the pre-flight check, so none of its builds ran/g)?.length, 2, diagnostics);
        for (const arch of ["amd64", "arm64"]) {
            assert.match(text(up), new RegExp(`linux/${arch}: builder "${builderName(arch)}" at tcp://127\\.0\\.0\\.1:${hostPort(arch)} \\(driver remote\\): connection refused`));
        }
        assert.match(text(up), /buildkitd\.sh start/);
        assert.doesNotMatch(text(up), /error serializing property/, "the SDK's property path buries the message");
        assert.equal(resources(), state, "the failed up changed the state of a resource");
        assert.deepEqual(await registryTags(REPOS), before, "the failed up changed the registry");
        await restoreServices();
        await assertConverged(s, before);
    });

    it("a builder host killed mid-up: the rerun names it until it is back, then converges", async () => {
        const s = new Stack({ sleep: SLEEP }, base);
        const { up, before } = await s.upMidBuild(5000);
        must("bash", ["test/e2e/buildkitd.sh", "kill", "arm64"]);
        const failed = keep("builder-killed", await up.done(300));
        assert.notEqual(failed.code, 0, `pulumi up survived its builder's death:\n${up.output().slice(-3000)}`);
        assert.match(text(failed), /example-runtime-arm64/);
        // The next up stops in its pre-flight and says which builder to bring back: the arm64 check passed
        // for these builds before the host died, and runs again because they did not succeed since.
        const early = keep("builder-still-down", s.pulumi("up", "--yes"));
        assert.notEqual(early.code, 0);
        assert.match(text(early), new RegExp(`1 of 2 builders failed the pre-flight check[\\s\\S]*linux/arm64: builder "${builderName("arm64")}" at tcp://127\\.0\\.0\\.1:${hostPort("arm64")} \\(driver remote\\): connection refused`));
        assert.match(text(early), /ImageFamily "example" \(stack "local"\): 1 of 1 builder failed the pre-flight check, so none of its builds ran/);
        assert.doesNotMatch(text(early), /context deadline exceeded/, "a build waited for buildx's deadline on the dead host");
        assert.equal(s.pendingOperations().length, 0, JSON.stringify(s.pendingOperations()));
        mustDetached("bash", ["test/e2e/buildkitd.sh", "start"]);
        await assertConverged(s, before);
    });

    it("the registry stopped while builds push: the rerun converges", async () => {
        const s = new Stack({ sleep: SLEEP }, base);
        const { up, before } = await s.upMidBuild(5000);
        const pid = Number(fs.readFileSync(REGISTRY_PID, "utf8"));
        process.kill(pid, "SIGKILL");
        for (let i = 0; i < 50 && (await registryUp()); i++) {
            await sleep(100);
        }
        assert.equal(await registryUp(), false, "the registry still answers");
        const failed = keep("registry-stopped", await up.done(600));
        assert.notEqual(failed.code, 0, `pulumi up succeeded without its registry:\n${up.output().slice(-3000)}`);
        assert.equal(s.pendingOperations().length, 0, JSON.stringify(s.pendingOperations()));
        mustDetached("bash", ["test/e2e/setup.sh"]);
        await assertConverged(s, before);
    });

    it("pulumi up interrupted with SIGINT mid-build: it stops cleanly, leaves no pending operation, and the rerun converges", async () => {
        const s = new Stack({ sleep: SLEEP }, base);
        const { up, before } = await s.upMidBuild(3000);
        up.signal("SIGINT");
        const stopped = keep("sigint", await up.done(300));
        assert.match(text(stopped), /\^C received|cancel/i);
        assert.equal(s.pendingOperations().length, 0, JSON.stringify(s.pendingOperations()));
        await assertConverged(s, before);
    });

    it("pulumi up killed outright (the runner dies): the next up is refused by the stale lock; pulumi cancel and pulumi refresh clear it, then the rerun converges", async () => {
        const s = new Stack({ sleep: SLEEP }, base);
        const { up, before } = await s.upMidBuild(3000);
        // The engine, its language host, the program and the provider, all at once.
        for (const pid of processTree(up.pid)) {
            try {
                process.kill(pid, "SIGKILL");
            } catch {
                // already gone
            }
        }
        keep("killed", await up.done(60));
        assert.ok(s.pendingOperations().length > 0, "the engine was killed mid-update but recorded no pending operation");
        const locked = keep("killed-next-up", s.pulumi("up", "--yes"));
        assert.notEqual(locked.code, 0);
        assert.match(text(locked), /the stack is currently locked by 1 lock\(s\)[\s\S]*pulumi cancel/);
        // What README "Interrupting pulumi up" tells a person to do.
        keep("killed-cancel", ok(s.pulumi("cancel", "--yes"), "pulumi cancel"));
        keep("killed-refresh", ok(s.pulumi("refresh", "--yes", "--clear-pending-creates"), "pulumi refresh"));
        assert.deepEqual(s.pendingOperations(), [], "refresh left pending operations");
        await assertConverged(s, before);
    });

    it("two pulumi up on the same stack at once: the second is refused by the lock and changes nothing", async () => {
        const s = new Stack({ sleep: SLEEP }, base);
        const { up: first, before } = await s.upMidBuild(0);
        const second = keep("second-up", s.pulumi("up", "--yes"));
        const firstStillRunning = !/Duration:/.test(first.output());
        assert.notEqual(second.code, 0, `the second up ran:\n${text(second).slice(-3000)}`);
        assert.match(text(second), /locked/i);
        assert.doesNotMatch(second.stdout, /example-\S+\s+(creating|updating|replacing)/, "the second up touched resources");
        assert.ok(firstStillRunning, "the first up had finished before the second was refused; the test proved nothing");
        ok(await first.done(600), "the first up");
        await assertConverged(s, before);
    });

    it("a builder presenting a certificate from another CA: the client refuses it, nothing is pushed for it, and the rerun on the real builder converges", async () => {
        const port = await freePort();
        impostor = new Buildkitd(impostorDir, hostConfigOf({ port } as BuilderFleetArgs, "linux/arm64"),
            fleetPems(path.join(impostorDir, "pki"), "stranger", "stranger-arm64-0", "127.0.0.1"), {});
        await impostor.start();
        // buildx trusts the local builders' CA and holds their client certificate, as for the real arm64 host;
        // only the host's certificate is a stranger's.
        sh("docker", ["buildx", "rm", IMPOSTOR_BUILDER]);
        must("docker", ["buildx", "create", "--name", IMPOSTOR_BUILDER, "--driver", "remote", "--platform", "linux/arm64",
            "--driver-opt", `cacert=${CERTS}/ca.pem,cert=${CERTS}/client.pem,key=${CERTS}/client-key.pem,servername=${impostor.pems.serverName}`,
            impostor.addr]);
        // Go's words (buildctl) and the pre-flight's.
        const UNKNOWN_CA = /certificate signed by unknown authority/;
        const NOT_OUR_CA = /the host's certificate is not signed by the CA buildx trusts for this builder/;
        const direct = buildctl(impostor.addr, { caFile: path.join(CERTS, "ca.pem"), serverName: impostor.pems.serverName, certFile: path.join(CERTS, "client.pem"), keyFile: path.join(CERTS, "client-key.pem") }, "debug", "workers");
        assert.notEqual(direct.code, 0);
        assert.match(direct.out, UNKNOWN_CA);

        const builders = { "linux/amd64": builderName("amd64"), "linux/arm64": IMPOSTOR_BUILDER };
        const s = new Stack({ builders }, base);
        const before = await registryTags(REPOS);
        const preflight = keep("other-ca-preflight", s.pulumi("up", "--yes"));
        assert.notEqual(preflight.code, 0);
        assert.match(text(preflight), new RegExp(`linux/arm64: builder "${IMPOSTOR_BUILDER}" at ${impostor.addr.replace(/\./g, "\\.")} \\(driver remote\\): ${NOT_OUR_CA.source}`));
        assert.doesNotMatch(text(preflight), /error serializing property/, "the SDK's property path buries the message");
        assert.deepEqual(await registryTags(REPOS), before, "the pre-flight let something through");
        // Without the pre-flight the provider's own client refuses the host: no arm64 build, no index.
        s.env = { ...s.env, IMAGEFLEET_PREFLIGHT: "off" };
        const provider = keep("other-ca-provider", s.pulumi("up", "--yes"));
        assert.notEqual(provider.code, 0);
        // buildx retries the handshake and gives up after 20 s, mostly without saying why; the pre-flight above does.
        // The error is read from the failed Image's diagnostics, not from its last progress line, which on a slow
        // machine can be any of buildx's messages (a CI run failed on that).
        const failed = [...text(provider).matchAll(/docker-build:index:Image (example-[\w-]+-(?:amd64|arm64)) \*\*(?:updating|creating) failed\*\*/g)].map((m) => m[1]);
        assert.ok(failed.length > 0 && failed.every((name) => name.endsWith("-arm64")), `failed Images: ${failed.join(", ") || "none"}; only arm64 ones should`);
        assert.match(text(provider), new RegExp(`docker-build:index:Image \\(${failed[0]}\\):\\s+error: [^\\n]*(context deadline exceeded|certificate signed by unknown authority)`),
            `the failed Image's diagnostics name neither the deadline nor the CA:\n${text(provider).slice(text(provider).indexOf("Diagnostics:"), text(provider).indexOf("Diagnostics:") + 3000)}`);
        const afterRefusal = await registryTags(REPOS);
        assert.ok(![...afterRefusal.keys()].some((t) => t.endsWith(`:${s.sha.slice(0, 12)}`)), "an index of this commit was pushed");
        delete s.env.IMAGEFLEET_PREFLIGHT;
        s.configure({});
        await assertConverged(s, before);
    });

    it("the registry cache refs deleted: the next build succeeds cold and writes them again", async () => {
        const s = new Stack({ coldNonce: crypto.randomBytes(6).toString("hex") }, base);
        // This file's cache refs: written since it started (no other test runs under the e2e lock).
        const now = await registryTags(CACHE_REPOS);
        const ours = [...now].filter(([tag, digest]) => cacheAtStart.get(tag) !== digest).map(([tag]) => tag);
        assert.ok(ours.length >= IMAGES.length * 2, `expected this file's cache refs, found ${ours.join(", ")}`);
        for (const tag of ours) {
            const [repo, ref] = tag.split(":");
            // What a lifecycle rule expiring them does: the tag is gone.
            fs.rmSync(path.join(REGISTRY_DATA, repo, "_manifests", "tags", ref), { recursive: true });
            assert.equal((await manifest(repo, ref)).status, 404, `${tag} still resolves`);
        }
        const before = await registryTags(REPOS);
        const cold = ok(keep("cold", s.pulumi("up", "--yes")), "the cold up");
        for (const tag of ours) {
            const [repo, ref] = tag.split(":");
            assert.ok((await tags(repo)).includes(ref), `${tag} was not written again (cold up took ${cold.seconds} s)`);
        }
        await assertConverged(s, before);
    });
});
