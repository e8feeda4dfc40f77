import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { instanceArchitecture, renderBuildkitdToml } from "../../components/builders";
import { IDLE_STOP_SCRIPT } from "../../components/builders/idleStop";
import { buildxProvider, RegistrationState } from "../../components/builders/registration";

function tmpdir(): string {
    return fs.mkdtempSync(path.join(os.tmpdir(), "imagefleet-builders-"));
}

describe("instance families", () => {
    it("knows Graviton families from x86 ones and refuses what is not an instance type", () => {
        for (const t of ["c7g.2xlarge", "m7g.large", "c6g.xlarge", "t4g.micro", "c7gn.4xlarge", "m6gd.large", "im4gn.large", "hpc7g.16xlarge", "g5g.xlarge", "a1.large", "c8g.2xlarge"]) {
            assert.equal(instanceArchitecture(t), "linux/arm64", t);
        }
        for (const t of ["c7i.2xlarge", "c7a.2xlarge", "m6i.large", "t3.micro", "g4dn.xlarge", "m7i-flex.large", "c5n.large", "r6id.large"]) {
            assert.equal(instanceArchitecture(t), "linux/amd64", t);
        }
        for (const t of ["c7g", "C7G.large", "mac2.metal", "", "c7g 2xlarge"]) {
            assert.equal(instanceArchitecture(t), undefined, t);
        }
    });
});

describe("buildkitd.toml", () => {
    it("listens on TCP with TLS and a client CA plus the attestor's root-only socket, runs RUN steps on a bridge, builds one platform and bounds its cache", () => {
        const toml = renderBuildkitdToml({
            listenAddress: "0.0.0.0", port: 1234, tlsDir: "/etc/buildkit/tls", root: "/var/lib/buildkit", platform: "linux/arm64",
            gc: { maxUsedGiB: 80, minFreeGiB: 10, keepDuration: "168h" },
        });
        const lines = toml.split("\n").map((l) => l.trim());
        assert.ok(lines.includes('address = ["tcp://0.0.0.0:1234", "unix:///run/buildkit/attestor.sock"]'), "one TCP address and the attestor's socket");
        assert.ok(!/uid|gid/.test(toml), "the socket stays root's (buildkitd's default uid/gid 0)");
        for (const line of ['networkMode = "bridge"', 'bridgeName = "buildkit0"', 'bridgeSubnet = "10.10.0.0/16"']) {
            assert.ok(lines.includes(line), `missing ${line} in\n${toml}`);
        }
        for (const line of ['cert = "/etc/buildkit/tls/cert.pem"', 'key = "/etc/buildkit/tls/key.pem"', 'ca = "/etc/buildkit/tls/ca.pem"',
            'platforms = ["linux/arm64"]', "gc = true", 'maxUsedSpace = "80GB"', 'minFreeSpace = "10GB"', 'keepDuration = "168h"', 'root = "/var/lib/buildkit"']) {
            assert.ok(lines.includes(line), `missing ${line} in\n${toml}`);
        }
        assert.equal(lines.filter((l) => l === "[[worker.oci.gcpolicy]]").length, 2);
        assert.ok(!toml.includes("[registry."), "the fleet adds no registry settings by default");
        const local = renderBuildkitdToml({
            listenAddress: "127.0.0.1", port: 1, tlsDir: "/t", root: "/r", platform: "linux/amd64",
            gc: { maxUsedGiB: 8, minFreeGiB: 1, keepDuration: "1h" }, registryCAs: { "registry.localhost:5000": ["/etc/ca.pem"] },
        });
        assert.match(local, /\[registry\."registry.localhost:5000"\]\n {2}http = false\n {2}ca = \["\/etc\/ca.pem"\]/);
        assert.ok(!local.includes("http = true"), "no registry is reached over plain HTTP");
    });
});

describe("host/isolate-builds.sh", () => {
    const FAKE = path.join(__dirname, "..", "fixtures", "host", "fake-iptables.sh");

    it("rejects the metadata and credentials endpoints and the host from the build subnet, and hooks each rule once however often it runs", () => {
        const dir = tmpdir();
        for (const tool of ["iptables", "ip6tables"]) {
            fs.symlinkSync(FAKE, path.join(dir, tool));
        }
        const run = () => spawnSync("bash", [path.join(__dirname, "..", "..", "host", "isolate-builds.sh"), "10.10.0.0/16"],
            { env: { ...process.env, PATH: `${dir}:${process.env.PATH}`, IPT_DB: path.join(dir, "db") }, encoding: "utf8" });
        for (let i = 0; i < 3; i++) {
            const r = run();
            assert.equal(r.status, 0, r.stderr);
        }
        const v4 = fs.readFileSync(path.join(dir, "db.iptables"), "utf8").trim().split("\n").sort();
        assert.deepEqual(v4, [
            "chain IMAGEFLEET-BUILDS",
            "rule FORWARD -s 10.10.0.0/16 -j IMAGEFLEET-BUILDS",
            "rule IMAGEFLEET-BUILDS -d 169.254.169.254/32 -j REJECT",
            "rule IMAGEFLEET-BUILDS -d 169.254.170.2/32 -j REJECT",
            "rule INPUT -s 10.10.0.0/16 -j REJECT",
        ]);
        assert.match(fs.readFileSync(path.join(dir, "db.ip6tables"), "utf8"), /rule IMAGEFLEET-BUILDS -d fd00:ec2::254\/128 -j REJECT/);
        assert.notEqual(spawnSync("bash", [path.join(__dirname, "..", "..", "host", "isolate-builds.sh")], { encoding: "utf8" }).status, 0, "no subnet: refused");
    });
});

describe("idle stop script", () => {
    const T0 = 1_700_000_000;
    let dir: string;
    let script: string;
    beforeEach(() => {
        dir = tmpdir();
        script = path.join(dir, "idle-stop");
        fs.writeFileSync(script, IDLE_STOP_SCRIPT, { mode: 0o755 });
    });
    afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

    /** One timer tick at `minute`, with the probe answering `active` (or the real default probe when undefined). */
    function tick(minute: number, active: boolean | undefined, env: Record<string, string> = {}): string {
        const r = spawnSync("bash", [script], {
            encoding: "utf8",
            env: {
                PATH: process.env.PATH!,
                IDLE_MINUTES: "10",
                IDLE_NOW: String(T0 + minute * 60),
                IDLE_STATE_FILE: path.join(dir, "state", "last-activity"),
                IDLE_STOP_CMD: `echo ${minute} >>${path.join(dir, "stops")}`,
                ...(active === undefined ? {} : { IDLE_PROBE_CMD: active ? "true" : "false" }),
                ...env,
            },
        });
        assert.equal(r.status, 0, r.stderr);
        return r.stdout;
    }
    const stops = () => (fs.existsSync(path.join(dir, "stops")) ? fs.readFileSync(path.join(dir, "stops"), "utf8").trim().split("\n") : []);

    it("stops after N idle minutes, not before, and starts a new idle period afterwards", () => {
        for (let m = 0; m < 10; m++) {
            tick(m, false);
        }
        assert.deepEqual(stops(), []);
        assert.match(tick(10, false), /idle for 10 min \(limit 10\); stopping/);
        assert.deepEqual(stops(), ["10"]);
        tick(11, false);
        assert.deepEqual(stops(), ["10"], "after a stop (and a start), the idle period starts over");
    });

    it("does not stop while a build is active, and counts idle time from the last activity", () => {
        for (let m = 0; m <= 25; m++) {
            assert.match(tick(m, true), /active/);
        }
        for (let m = 26; m < 35; m++) {
            tick(m, false);
        }
        assert.deepEqual(stops(), []);
        tick(35, false);
        assert.deepEqual(stops(), ["35"]);
    });

    it("by default counts established connections to the BuildKit port, and a failing probe as activity", () => {
        const bin = path.join(dir, "bin");
        fs.mkdirSync(bin);
        const fakeSs = (body: string) => fs.writeFileSync(path.join(bin, "ss"), `#!/bin/bash\necho "$*" >>${dir}/ss-args\n${body}\n`, { mode: 0o755 });
        const env = { PATH: `${bin}:${process.env.PATH}`, BUILDKIT_PORT: "1234" };
        fakeSs('echo "0 0 10.0.1.5:1234 10.40.3.7:51234"');
        tick(0, undefined, env);
        assert.match(tick(30, undefined, env), /active: a client is connected to port 1234/);
        assert.match(fs.readFileSync(path.join(dir, "ss-args"), "utf8"), /-t -n state established \( sport = :1234 \)/);
        fakeSs("exit 1");
        assert.match(tick(45, undefined, env), /active/, "a broken probe must not stop a busy host");
        fakeSs("true");
        tick(50, undefined, env);
        assert.deepEqual(stops(), []);
        tick(55, undefined, env);
        assert.deepEqual(stops(), ["55"]);
    });

    it("never stops with IDLE_MINUTES=0", () => {
        tick(0, false, { IDLE_MINUTES: "0" });
        tick(1000, false, { IDLE_MINUTES: "0" });
        assert.deepEqual(stops(), []);
    });
});

describe("buildx registration provider", () => {
    let dir: string;
    let saved: NodeJS.ProcessEnv;
    beforeEach(() => {
        dir = tmpdir();
        saved = { ...process.env };
        // A docker stand-in that logs its arguments and keeps buildx's instance files.
        fs.writeFileSync(path.join(dir, "docker"), `#!/bin/bash
echo "$*" >>${dir}/docker.log
if [[ $1 == buildx && $2 == create ]]; then
  while [[ $1 != --name ]]; do shift; done
  mkdir -p "$BUILDX_CONFIG/instances" && touch "$BUILDX_CONFIG/instances/$2"
elif [[ $1 == buildx && $2 == rm ]]; then
  rm -f "$BUILDX_CONFIG/instances/$3"
fi
`, { mode: 0o755 });
        process.env.IMAGEFLEET_DOCKER = path.join(dir, "docker");
        process.env.BUILDX_CONFIG = path.join(dir, "buildx");
    });
    afterEach(() => {
        process.env = saved;
        fs.rmSync(dir, { recursive: true, force: true });
    });

    const state = (): RegistrationState => ({
        builderName: "imagefleet-dev-arm64",
        platform: "linux/arm64",
        nodes: [
            { endpoint: "tcp://10.0.1.5:1234", serverName: "a.buildkit.imagefleet.internal" },
            { endpoint: "tcp://10.0.2.6:1234", serverName: "b.buildkit.imagefleet.internal" },
        ],
        caPem: "CA", certPem: "CERT", keyPem: "KEY",
        certDir: path.join(dir, "certs"),
    });
    const log = () => fs.readFileSync(path.join(dir, "docker.log"), "utf8").trim().split("\n");

    it("creates a remote builder per platform with the client certificate, the key readable by its owner only", async () => {
        const s = state();
        const created = await buildxProvider.create!(s);
        assert.equal(created.id, "imagefleet-dev-arm64");
        const certs = path.join(dir, "certs");
        const opt = (server: string) => `cacert=${certs}/ca.pem,cert=${certs}/cert.pem,key=${certs}/key.pem,servername=${server}`;
        assert.deepEqual(log(), [
            `buildx create --name imagefleet-dev-arm64 --node imagefleet-dev-arm64-0 --driver remote --driver-opt ${opt("a.buildkit.imagefleet.internal")} --platform linux/arm64 tcp://10.0.1.5:1234`,
            `buildx create --name imagefleet-dev-arm64 --node imagefleet-dev-arm64-1 --append --driver remote --driver-opt ${opt("b.buildkit.imagefleet.internal")} --platform linux/arm64 tcp://10.0.2.6:1234`,
        ]);
        assert.equal(fs.statSync(path.join(certs, "key.pem")).mode & 0o777, 0o600);
        assert.equal(fs.statSync(certs).mode & 0o777, 0o700);
        assert.equal(fs.readFileSync(path.join(certs, "key.pem"), "utf8"), "KEY");
    });

    it("re-registers on a machine that lacks the builder, replaces on a rename, and removes it on delete", async () => {
        const s = state();
        const { outs } = await buildxProvider.create!(s);
        assert.equal((await buildxProvider.diff!("id", outs, s)).changes, false);
        fs.rmSync(path.join(dir, "buildx"), { recursive: true });
        assert.equal((await buildxProvider.diff!("id", outs, s)).changes, true, "a fresh CI runner must register it again");
        const renamed = await buildxProvider.diff!("id", outs, { ...s, builderName: "other" });
        assert.deepEqual(renamed.replaces, ["builderName"]);
        await buildxProvider.update!("id", outs, s);
        await buildxProvider.delete!("id", outs);
        assert.equal(log().pop(), "buildx rm imagefleet-dev-arm64");
        assert.equal(fs.existsSync(path.join(dir, "certs")), false);
    });
});
