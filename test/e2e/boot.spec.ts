// A builder host's first boot, for real: the user data exactly as BuilderFleet
// renders it for this machine's platform, run by Debian's cloud-init (NoCloud)
// under systemd as PID 1 (systemd-nspawn), with stand-ins only for what AWS
// gives a host: the instance metadata service, SSM, the EBS cache volume (a
// loop device), a KMS key, and the release tarballs at the fleet's
// `buildkitReleaseUrl` and `attestor.releaseUrl`. Then the host's life: a
// family built through it by `pulumi up` and signed by the host's attestor,
// an idle stop that waits for a build, a start that finds the cache (and an
// attestor that signs again), and a broken setup that fails with the host's
// journal.
import { strict as assert } from "assert";
import { ChildProcess, spawn } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";
import { clientProfile, caProfile } from "../../components/builders/certificates";
import { HOST_PATHS } from "../../components/builders/buildkitdToml";
import { buildxProvider, RegistrationState } from "../../components/builders/registration";
import { CACHE_DEVICE, userDataFile } from "../../components/builders/userData";
import { bootImage, familyProject, fleetArgs, IDLE_MINUTES, listSteps, makeAttestorTarball, missing, render, stepsSince, TOOLS_BIN, workDir, writeFamily } from "./boot/fixtures";
import { BootHost, Link, makeLink, removeLink, run } from "./boot/host";
import { makeReleaseTarball, ReleaseTarball } from "./boot/release";
import { RenderedHost } from "./boot/render";
import { StandInProcess } from "./boot/standins";
import { BUILDCTL, buildctl, ClientTls } from "./fleet/buildkitd";
import { issue } from "./fleet/certs";
import { statementsOf } from "../../components/supplychain/checks";
import { Project, UpResult } from "./project";
import { fromCache, manifest, requireEngine, sh, sleep, Step } from "./support";

const STRICT = !!process.env.IMAGEFLEET_E2E;
const REGISTRY = "registry.localhost:5000";
const REGISTRY_CA = process.env.IMAGEFLEET_REGISTRY_CA ?? "/var/lib/imagefleet-e2e/registry/tls/ca.pem";
const REGION = "eu-west-1";
const REFUSED = /certificate required|bad certificate|unknown certificate authority|broken pipe|connection reset by peer/i;
const IMAGES = ["dev-env", "artifact", "runtime"];
/** BuildKit's worker id lives with its state: the same id after a restart means the same cache. */
const WORKER_ID = `${HOST_PATHS.root}/runc-overlayfs/workerid`;

const FLEET = "imagefleet-boot";
/** What the attestor keeps on the host: one line per pushed image it signed. */
const ATTESTED = "/var/lib/imagefleet-attestor/attested.jsonl";

interface Attested { readonly ref: string; readonly subject: string; readonly repository: string; readonly digest: string; readonly builderId: string }

const ok = (r: UpResult): UpResult => {
    assert.equal(r.code, 0, `${r.stdout.slice(-6000)}\n${r.stderr.slice(-6000)}`);
    return r;
};

describe("a builder host's first boot, for real (systemd + cloud-init NoCloud, AWS stood in for)", function () {
    this.timeout(30 * 60 * 1000);
    const id = crypto.randomBytes(4).toString("hex");
    const dir = fs.mkdtempSync(path.join(workDir(), "imagefleet-boot-"));
    const namespace = `e2e-boot-${id}`;
    let link: Link | undefined;
    let standIns: StandInProcess | undefined;
    let release: ReleaseTarball;
    let rendered: RenderedHost;
    let host: BootHost | undefined;
    let broken: BootHost | undefined;
    let client: ClientTls;
    let registration: RegistrationState | undefined;
    let images: object[];
    let workerId = "";
    const projects: Project[] = [];
    const savedBuildxConfig = process.env.BUILDX_CONFIG;

    const kmsPublicKey = path.join(dir, "kms-public.pem");
    const hostSteps = (since: number): Step[] => stepsSince(rendered.endpoint, client, since);
    /** What the host's attestor signed of this run's images, from its state on the host's root volume. */
    const attested = (): Attested[] => {
        const file = path.join(host!.rootfs, ATTESTED);
        return (fs.existsSync(file) ? fs.readFileSync(file, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l) as Attested) : [])
            .filter((e) => e.repository.startsWith(`${REGISTRY}/${namespace}/`));
    };
    /** Waits on the attestor's state (it signs after the push, off the build's path) until `n` of this run's pushes are signed. */
    const waitAttested = async (n: number, seconds: number): Promise<Attested[]> => {
        for (const deadline = Date.now() + seconds * 1000; attested().length < n;) {
            if (Date.now() > deadline) {
                const failed = path.join(host!.rootfs, "/var/lib/imagefleet-attestor/failed.jsonl");
                throw new Error(`the attestor signed ${attested().length} of ${n} pushes in ${seconds} s\n`
                    + `${fs.existsSync(failed) ? fs.readFileSync(failed, "utf8") : ""}${host!.journal(60, "-u", "imagefleet-attestor.service")}`);
            }
            await sleep(2000);
        }
        return attested();
    };
    /** The family's RUN steps among them. */
    const familyRuns = (since: number): Step[] => hostSteps(since).filter((s) => / RUN /.test(s.name));

    /** A host booted from `userData`, its console and volume under `dir/<name>`. */
    const newHost = (name: string, userData: string): BootHost => new BootHost({
        dir: path.join(dir, name),
        image: bootImage()!,
        userData,
        // What the VPC's DNS would answer: the registry (ECR in AWS) and SSM's endpoint.
        hosts: [`${link!.outside} ${REGISTRY.split(":")[0]} ${standIns!.ssmHost} ${standIns!.kmsHost}`],
        trust: [fs.readFileSync(REGISTRY_CA, "utf8"), standIns!.caPem],
        volumeGiB: 4,
    }, link!);

    before(async function () {
        const lacking = missing();
        if (lacking.length > 0) {
            if (STRICT) {
                throw new Error(`IMAGEFLEET_E2E is set but the boot test lacks: ${lacking.join(", ")} (test/e2e/setup.sh, scripts/build-tools.sh)`);
            }
            this.skip();
        }
        requireEngine();
        const t0 = Date.now();
        release = makeReleaseTarball(dir);
        link = makeLink(80);
        const urlPath = `/buildkit/${release.version}/buildkit-${release.version}.linux-amd64.tar.gz`;
        const attestorTarball = makeAttestorTarball(dir);
        standIns = await StandInProcess.start({
            ip: link.outside, region: REGION, forwardPorts: [5000], dir: path.join(dir, "aws"),
            files: { [urlPath]: release.file, "/attestor/imagefleet-attestor-linux-amd64.tar.gz": attestorTarball },
        });
        const releaseUrl = `http://${link.outside}:${standIns.filesPort}/buildkit/{version}/buildkit-{version}.linux-{arch}.tar.gz`;
        // The host signs with the stand-in's KMS key, given as the user's own (the fleet would otherwise make one).
        const attestor = { releaseUrl: `http://${link.outside}:${standIns.filesPort}/attestor/imagefleet-attestor-linux-{arch}.tar.gz`, kmsKeyArn: standIns.kmsKeyArn };
        rendered = render(dir, { fleet: FLEET, platform: "linux/amd64", hostIp: link.inside, args: { ...fleetArgs(link, releaseUrl, attestor), buildkitVersion: release.version } });
        fs.writeFileSync(kmsPublicKey, standIns.kmsPublicKeyPem);
        standIns.setParameters({ [rendered.keyParameter]: rendered.keyPem });
        const pki = path.join(dir, "client");
        fs.mkdirSync(pki);
        fs.writeFileSync(path.join(pki, "ca.pem"), rendered.caPem);
        fs.writeFileSync(path.join(pki, "client.pem"), rendered.clientCertPem);
        fs.writeFileSync(path.join(pki, "client-key.pem"), rendered.clientKeyPem, { mode: 0o600 });
        client = { caFile: path.join(pki, "ca.pem"), serverName: rendered.serverName, certFile: path.join(pki, "client.pem"), keyFile: path.join(pki, "client-key.pem") };
        host = newHost("host", rendered.userData);
        host.prepare(`i-0${id}boot`);
        console.log(`      tarball, stand-ins, rendering and the host's disks: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    });

    after(async () => {
        // Each step's time, when IMAGEFLEET_BOOT_TIMES is set (CI's budget is tight).
        let t = Date.now();
        const lap = (what: string) => {
            if (process.env.IMAGEFLEET_BOOT_TIMES) {
                console.log(`      clean-up, ${what}: ${((Date.now() - t) / 1000).toFixed(1)} s`);
            }
            t = Date.now();
        };
        if (registration) {
            await buildxProvider.delete!("", registration).catch(() => undefined);
        }
        process.env.BUILDX_CONFIG = savedBuildxConfig;
        if (savedBuildxConfig === undefined) {
            delete process.env.BUILDX_CONFIG;
        }
        lap("buildx builder");
        projects.forEach((p) => {
            p.remove();
            fs.rmSync(p.stateDir, { recursive: true, force: true });
        });
        lap("checkouts");
        await host?.destroy();
        await broken?.destroy();
        lap("hosts");
        await standIns?.stop();
        if (link) {
            removeLink(link);
        }
        fs.rmSync(dir, { recursive: true, force: true });
        lap("stand-ins and link");
    });

    it("first boot: cloud-init runs the fleet's setup, which installs BuildKit from buildkitReleaseUrl; buildkitd gets its key from SSM through IMDSv2", async () => {
        host!.start();
        const seconds = await host!.ready(rendered.endpoint, client, 240);
        console.log(`      first boot: serving ${seconds.toFixed(1)} s after power-on`);
        assert.equal(standIns!.count(/^file \/buildkit\/.*\.linux-amd64\.tar\.gz$/), 1, "the tarball was downloaded once");
        assert.ok(standIns!.count(/^imds PUT \/latest\/api\/token$/) >= 2, "a token for the key fetcher and one for the AWS CLI");
        assert.equal(standIns!.count(/^imds GET \/latest\/meta-data\/placement\/region$/), 1);
        assert.equal(standIns!.count(/^imds GET /, 401), 0, "nothing asked the metadata service without a token (IMDSv1)");
        assert.equal(standIns!.count(new RegExp(`^ssm AmazonSSM.GetParameter ${rendered.keyParameter}$`)), 1, "signed with the instance role's credentials");
        const key = path.join(host!.rootfs, HOST_PATHS.tlsDir, "key.pem");
        assert.equal(fs.readFileSync(key, "utf8").trim(), rendered.keyPem.trim());
        assert.equal(fs.statSync(key).mode & 0o777, 0o600);
        assert.equal(userDataFile(rendered.userData, HOST_PATHS.tlsDir + "/key.pem"), undefined, "the key is not in the user data");
        const status = host!.exec(["cloud-init", "status", "--long"]);
        assert.match(status.out, /status: done/, status.out);
    });

    it("the cache volume is formatted XFS and mounted where buildkitd keeps its state", () => {
        const mount = host!.exec(["findmnt", "--noheadings", "--output", "SOURCE,FSTYPE", "--target", `${HOST_PATHS.root}/runc-overlayfs`]);
        assert.equal(mount.out.trim().split(/\s+/).join(" "), `${CACHE_DEVICE} xfs`, mount.out);
        assert.equal(run("blkid", ["-s", "TYPE", "-o", "value", host!.loop]).out.trim(), "xfs", "the volume itself holds the file system");
        const root = host!.exec(["findmnt", "--noheadings", "--output", "TARGET", "--target", "/"]);
        assert.notEqual(root.out.trim(), HOST_PATHS.root);
        workerId = host!.exec(["cat", WORKER_ID]).out;
        assert.match(workerId, /^\w{20,}$/);
    });

    it("buildkitd runs from the fleet's unit with the fleet's buildkitd.toml", () => {
        const show = host!.exec(["systemctl", "show", "buildkitd.service", "--property", "ActiveState,Type,MainPID,FragmentPath,UnitFileState"]);
        const props = Object.fromEntries(show.out.trim().split("\n").map((l) => l.split("=", 2)));
        assert.deepEqual({ ...props, MainPID: undefined }, {
            ActiveState: "active", Type: "notify", FragmentPath: "/etc/systemd/system/buildkitd.service", UnitFileState: "enabled", MainPID: undefined,
        });
        const cmdline = host!.exec(["cat", `/proc/${props.MainPID}/cmdline`]).out.split("\0").filter(Boolean);
        assert.deepEqual(cmdline, ["/usr/local/bin/buildkitd", "--config", HOST_PATHS.config]);
        assert.equal(fs.readFileSync(path.join(host!.rootfs, HOST_PATHS.config), "utf8"), userDataFile(rendered.userData, HOST_PATHS.config));
        const workers = buildctl(rendered.endpoint, client, "debug", "workers", "--verbose");
        assert.equal(workers.code, 0, workers.out);
        // The host's platform first; BuildKit appends what it can emulate, and a
        // container shares this machine's QEMU binfmt handlers (a fleet host has none).
        assert.match(workers.out, /Platforms:\s+linux\/amd64[,\n]/);
        // 80 % and 10 % of the 20 GiB volume; BuildKit reads "GB" as GiB.
        assert.match(workers.out, /GC Policy rule#1:\s+All:\s+true\s+Minimum free space:\s+2\.147483648GB\s+Maximum used space:\s+17\.179869184GB/);
    });

    it("refuses a client without the fleet's certificate and serves one with it", () => {
        const none = buildctl(rendered.endpoint, { caFile: client.caFile, serverName: client.serverName }, "debug", "workers");
        assert.notEqual(none.code, 0, none.out);
        assert.match(none.out, REFUSED);
        const other = path.join(dir, "stranger");
        const ca = issue(other, "ca", caProfile("stranger", 48));
        const stranger = issue(other, "client", clientProfile("stranger", 48), ca);
        fs.writeFileSync(path.join(other, "client.pem"), stranger.cert);
        fs.writeFileSync(path.join(other, "client-key.pem"), stranger.key, { mode: 0o600 });
        const strangers = buildctl(rendered.endpoint, { ...client, certFile: path.join(other, "client.pem"), keyFile: path.join(other, "client-key.pem") }, "debug", "workers");
        assert.notEqual(strangers.code, 0, strangers.out);
        assert.match(strangers.out, REFUSED);
        const fleet = buildctl(rendered.endpoint, client, "debug", "workers");
        assert.equal(fleet.code, 0, fleet.out);
    });

    it("a RUN step on the host reaches neither the metadata service (which the host itself uses), the host's own BuildKit port, its TLS key nor the attestor's socket; the stand-in sees no request from it", () => {
        const since = Date.now();
        // What the step must not see is there on the host (else its absence below would prove nothing).
        const hostFiles = [`${HOST_PATHS.tlsDir}/key.pem`, HOST_PATHS.attestorSocket];
        for (const f of hostFiles) {
            assert.equal(host!.exec(["test", "-e", f]).code, 0, `${f} is not on the host`);
        }
        const ctx = fs.mkdtempSync(path.join(dir, "probe-"));
        const port = Number(new URL(rendered.endpoint.replace(/^tcp:/, "http:")).port);
        fs.writeFileSync(path.join(ctx, "Dockerfile"), [
            `FROM ${REGISTRY}/base/debian:bookworm`,
            'SHELL ["/bin/bash", "-c"]',
            `RUN if timeout 5 bash -c 'exec 3<>/dev/tcp/169.254.169.254/80' 2>/dev/null; then echo "REACHED metadata"; exit 1; else echo "refused: metadata"; fi`,
            "RUN gw=$(awk 'NR>1 && $2==\"00000000\" {printf \"%d.%d.%d.%d\", \"0x\" substr($3,7,2), \"0x\" substr($3,5,2), \"0x\" substr($3,3,2), \"0x\" substr($3,1,2)}' /proc/net/route); " +
                `if timeout 5 bash -c "exec 3<>/dev/tcp/$gw/${port}" 2>/dev/null; then echo "REACHED host"; exit 1; else echo "refused: host $gw:${port}"; fi`,
            `RUN for f in ${hostFiles.join(" ")}; do if [ -e "$f" ]; then echo "REACHED $f"; exit 1; fi; done; echo "refused: host files"`,
            "",
        ].join("\n"));
        const r = buildctl(rendered.endpoint, client, "build", "--frontend", "dockerfile.v0", "--local", `context=${ctx}`, "--local", `dockerfile=${ctx}`, "--no-cache", "--progress", "plain");
        assert.equal(r.code, 0, r.out.slice(-3000));
        assert.match(r.out, /refused: metadata/);
        assert.match(r.out, /refused: host \d+\.\d+\.\d+\.\d+:\d+/);
        assert.match(r.out, /refused: host files/);
        assert.deepEqual(standIns!.served().filter((x) => x.what.startsWith("imds") && x.at >= since).map((x) => x.what), [], "the metadata stand-in answered a build");
    });

    let held: { proc: ChildProcess; output: () => string; exit: Promise<number>; since: number; released: number } | undefined;

    it("builds a family through the host as a buildx remote builder (pulumi up) while a long build holds it busy", async () => {
        // A build that runs until the test lets it end: the idle stop must wait for it.
        const holdId = `hold-${id}`;
        const context = path.join(dir, "held");
        fs.mkdirSync(context);
        fs.writeFileSync(path.join(context, "Dockerfile"), `FROM ${REGISTRY}/base/busybox:1.36\n`
            + `RUN i=0; until wget -q -O /dev/null http://${link!.outside}:${standIns!.filesPort}/hold/${holdId}; do i=$((i+1)); [ $i -lt 900 ] || exit 1; sleep 1; done\n`);
        let out = "";
        const proc = spawn(BUILDCTL, ["--addr", rendered.endpoint, "--tlscacert", client.caFile, "--tlsservername", client.serverName,
            "--tlscert", client.certFile!, "--tlskey", client.keyFile!, "build", "--frontend", "dockerfile.v0",
            "--local", `context=${context}`, "--local", `dockerfile=${context}`, "--progress", "plain"], { stdio: ["ignore", "pipe", "pipe"] });
        proc.stdout!.on("data", (d) => (out += d));
        proc.stderr!.on("data", (d) => (out += d));
        held = { proc, output: () => out, exit: new Promise((r) => proc.once("exit", (code) => r(code ?? -1))), since: Date.now(), released: 0 };

        // The fleet's own registration code makes the buildx builder, in a buildx config of the test's own.
        process.env.BUILDX_CONFIG = path.join(dir, "buildx");
        registration = {
            builderName: `${rendered.builderName}-${id}`,
            platform: "linux/amd64",
            nodes: [{ endpoint: rendered.endpoint, serverName: rendered.serverName }],
            caPem: rendered.caPem, certPem: rendered.clientCertPem, keyPem: rendered.clientKeyPem,
            certDir: path.join(dir, "buildx-certs"),
            waitSeconds: 60,
        };
        await buildxProvider.create!(registration);
        images = writeFamily(path.join(dir, "family"), id);
        const project = familyProject(`boot-${id}`, namespace, registration.builderName, images);
        projects.push(project);
        const since = Date.now();
        const up = ok(project.run("up"));
        const built = up.resources.filter((r) => r.type === "docker-build:index:Image");
        assert.deepEqual(built.map((r) => r.name.replace(/^example-/, "")).sort(), IMAGES.map((i) => `${i}-amd64`).sort());
        // What the host itself recorded (BuildKit's build history), not what the provider relayed.
        const runs = familyRuns(since);
        assert.equal(runs.length, IMAGES.length, listSteps(runs));
        assert.ok(runs.every((s) => s.ran && !fromCache(s)), `every RUN step ran on the new host:\n${listSteps(runs)}`);
        assert.ok(runs.some((s) => s.lines.some((l) => l.includes(`hello from boot test ${id}`))), `runtime printed the artifact's file:\n${listSteps(runs)}`);
        const refs = project.outputs().refs as Record<string, string>;
        for (const image of IMAGES) {
            const m = await manifest(`${namespace}/${image}`, refs[image].split("@")[1]);
            assert.equal(m.status, 200, `${namespace}/${image} was not pushed through the host`);
        }

        // Two idle checks that saw the build: were it not counted, the second would have stopped the host.
        const activeChecks = () => host!.messages("imagefleet-idle-stop").filter((m) => m.at >= held!.since && /^active: a client is connected/.test(m.message));
        for (let waited = 0; activeChecks().length < 2; waited += 2) {
            assert.ok(waited < 240, `the idle-stop timer logged no two checks during the build:\n${host!.journal(60, "-u", "imagefleet-idle-stop.service")}`);
            assert.ok(host!.running, host!.failure("it stopped during a build").message);
            await new Promise((r) => setTimeout(r, 2000));
        }
        assert.ok(host!.running, "the host stopped during a build");
        held.released = Date.now();
        standIns!.release(holdId);
        assert.equal(await held.exit, 0, held.output().slice(-3000));
    });

    it("the attestor runs under systemd from the first boot and signs every pushed image with the KMS key, through the instance role, as this host's builder", async () => {
        const show = host!.exec(["systemctl", "show", "imagefleet-attestor.service", "--property", "ActiveState,UnitFileState"]);
        assert.match(show.out, /^ActiveState=active$/m, `${show.out}\n${host!.journal(40, "-u", "imagefleet-attestor.service")}`);
        assert.match(show.out, /^UnitFileState=enabled$/m);
        const signed = await waitAttested(IMAGES.length, 240);
        assert.deepEqual(signed.map((e) => e.repository.split("/").pop()).sort(), [...IMAGES].sort());
        const builderId = `https://imagefleet.dev/attestor/v1/${FLEET}-amd64-0/${rendered.builderName}`;
        const cosign = path.join(TOOLS_BIN, "cosign");
        for (const e of signed) {
            assert.equal(e.builderId, builderId);
            // Verified on this machine, from the registry, with the public half of the key only KMS holds.
            const provenance = sh(cosign, ["verify-attestation", "--insecure-ignore-tlog=true", "--key", kmsPublicKey, "--type", "slsaprovenance1", e.subject]);
            assert.equal(provenance.code, 0, `${e.subject}: ${provenance.stderr.slice(-3000)}`);
            const [statement] = statementsOf(provenance.stdout);
            assert.ok(statement, provenance.stdout.slice(0, 2000));
            assert.deepEqual(statement.subjectDigests, [e.digest]);
            assert.equal((statement.predicate as any).runDetails.builder.id, builderId);
            const sbom = sh(cosign, ["verify-attestation", "--insecure-ignore-tlog=true", "--key", kmsPublicKey, "--type", "spdxjson", e.subject]);
            assert.equal(sbom.code, 0, `${e.subject}: ${sbom.stderr.slice(-3000)}`);
        }
        // Two signatures per image (provenance, SBOM), each a KMS Sign with the role's credentials from IMDSv2.
        assert.ok(standIns!.count(/^kms TrentService\.Sign /) >= 2 * IMAGES.length, standIns!.served().filter((x) => x.what.startsWith("kms")).map((x) => x.what).join("\n"));
        assert.equal(standIns!.count(/^kms /, 400), 0, "a KMS request without the instance role's credentials");
    });

    it(`stops itself after ${IDLE_MINUTES} idle minute(s), and did not while the build ran`, async () => {
        assert.ok(held?.released, "the previous test did not finish its build");
        await host!.stopped(240).catch(() => {
            throw host!.failure(`it did not stop within 240 s of its last build:\n${host!.journal(40, "-u", "imagefleet-idle-stop.service")}`);
        });
        const checks = host!.messages("imagefleet-idle-stop");
        const stops = checks.filter((m) => /^idle for \d+ min \(limit 1\); stopping: systemctl poweroff$/.test(m.message));
        assert.equal(stops.length, 1, checks.map((m) => m.message).join("\n"));
        assert.ok(stops[0].at > held!.released, "it stopped before the build ended");
        assert.ok(checks.filter((m) => m.at >= held!.since && m.at <= held!.released).every((m) => /^active:/.test(m.message)), "a check during the build found the host idle");
        console.log(`      stopped ${((stops[0].at - held!.released) / 1000).toFixed(0)} s after the build ended`);
        assert.match(host!.journal(20), /Powering off|System Power Off|poweroff/i);
    });

    it("started again, it comes back with its cache: a second build of the family is fully cached", async () => {
        const keyFetches = standIns!.count(/^ssm AmazonSSM.GetParameter /);
        host!.start();
        const seconds = await host!.ready(rendered.endpoint, client, 180);
        console.log(`      second boot: serving ${seconds.toFixed(1)} s after power-on`);
        assert.equal(host!.exec(["cat", WORKER_ID]).out, workerId, "buildkitd found its worker (and cache) on the volume");
        assert.equal(standIns!.count(/^file \/buildkit\//), 1, "BuildKit was not downloaded again");
        assert.equal(standIns!.count(/^ssm AmazonSSM.GetParameter /), keyFetches + 1, "buildkitd fetched its key again at start");
        const mount = host!.exec(["findmnt", "--noheadings", "--output", "SOURCE,FSTYPE", "--target", `${HOST_PATHS.root}/runc-overlayfs`]);
        assert.equal(mount.out.trim().split(/\s+/).join(" "), `${CACHE_DEVICE} xfs`, mount.out);
        // A fresh checkout and state: every Image is created again, and the host has every step.
        const project = familyProject(`boot-${id}`, namespace, registration!.builderName, images);
        projects.push(project);
        const since = Date.now();
        const up = ok(project.run("up"));
        const built = up.resources.filter((r) => r.type === "docker-build:index:Image");
        assert.deepEqual(built.map((r) => r.op), IMAGES.map(() => "create"), "a new stack builds every image again");
        const steps = hostSteps(since).filter((s) => / (RUN|COPY) /.test(s.name));
        assert.equal(steps.filter((s) => / RUN /.test(s.name)).length, IMAGES.length, listSteps(steps));
        for (const step of steps) {
            assert.ok(fromCache(step), `${step.name} ran again after the restart:\n${step.lines.join("\n")}`);
        }
        // The attestor came back with the host and signs this run's pushes too (new build records), nothing twice.
        assert.equal(host!.exec(["systemctl", "is-active", "imagefleet-attestor.service"]).out.trim(), "active");
        const signed = await waitAttested(2 * IMAGES.length, 240);
        assert.equal(new Set(signed.map((e) => e.ref)).size, signed.length, "a build record signed twice");
    });

    it("a broken setup script (a wrong cache device) fails the boot, and the failure shows the host's journal", async () => {
        await host!.powerOff();
        const doc = YAML.parse(rendered.userData);
        const setup = doc.write_files.find((f: { path: string }) => f.path === "/usr/local/bin/imagefleet-setup");
        const wrong = setup.content.replaceAll(CACHE_DEVICE, "/dev/null");
        assert.notEqual(wrong, setup.content);
        setup.content = wrong;
        broken = newHost("broken", "#cloud-config\n" + YAML.stringify(doc, { lineWidth: 0 }));
        broken.prepare(`i-1${id}boot`);
        broken.start();
        const failure = await broken.ready(rendered.endpoint, client, 240).then(() => undefined, (err: Error) => err);
        assert.ok(failure, "the host served with a broken setup script");
        console.log(`      ${failure.message.split("\n")[0]}`);
        assert.match(failure.message, /cloud-init reported errors: .*runcmd/);
        assert.match(failure.message, /--- journal of the host\n/);
        assert.match(failure.message, /cloud-init\[\d+\]: .*\/dev\/null/, "the journal shows the setup script's error");
        assert.doesNotMatch(broken.journal(500, "-u", "buildkitd.service"), /Started buildkitd/);
    });
});
