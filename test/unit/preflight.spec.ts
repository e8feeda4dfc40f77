import { strict as assert } from "assert";
import * as fs from "fs";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import * as tls from "tls";
import { fleetPems, FleetPems } from "../e2e/fleet/certs";
import * as pulumi from "@pulumi/pulumi";
import { builderCheckProvider, BuilderCheckInputs } from "../../components/builders/builderCheck";
import { checkBuilders, describeDeadBuilders } from "../../components/builders/preflight";

// The pre-flight against a fake `docker` that answers `buildx inspect` the way
// buildx 0.13 does for a remote builder (the e2e tier runs it against the real
// buildkitd hosts). Endpoints are real sockets: one listening, one closed.

interface Fake {
    readonly endpoint?: string;
    /** false: `no builder "x" found`. */
    readonly registered?: boolean;
    /** What `--bootstrap` does. */
    readonly bootstrap: "running" | "deadline" | "hang";
    readonly platforms?: string;
    /** buildx driver options (cacert, cert, key, servername). */
    readonly opts?: Record<string, string>;
}

const FAKE_DOCKER = `#!/usr/bin/env node
const builders = JSON.parse(require("fs").readFileSync(process.env.FAKE_BUILDERS, "utf8"));
const args = process.argv.slice(2);
const name = args[args.length - 1];
const b = builders[name];
if (!b || b.registered === false) { console.error('ERROR: no builder "' + name + '" found'); process.exit(1); }
const boot = args.includes("--bootstrap");
if (boot && b.bootstrap === "hang") { setTimeout(() => {}, 60000); return; }
if (boot && b.bootstrap === "deadline") {
  console.log("#1 [internal] waiting for connection\\n#1 ERROR: context deadline exceeded");
  console.error("ERROR: context deadline exceeded"); process.exit(1);
}
console.log("Name:          " + name + "\\nDriver:        remote\\n\\nNodes:\\nName:     " + name + "0\\nEndpoint: " + b.endpoint +
  (b.opts ? "\\nDriver Options: " + Object.entries(b.opts).map(([k, v]) => k + '="' + v + '"').join(" ") : "") +
  "\\nStatus:   " + (boot ? "running" : "inactive") + (boot ? "\\nBuildKit: v0.34.2\\nPlatforms: " + (b.platforms || "") : ""));
`;

describe("builder pre-flight (checkBuilders)", function () {
    this.timeout(30_000);
    let dir = "";
    let server: net.Server;
    let live = "";
    let closed = "";

    const check = (fakes: Record<string, Fake>, targets: { platform: string; builder: string }[], timeoutSeconds = 5) => {
        fs.writeFileSync(path.join(dir, "builders.json"), JSON.stringify(fakes));
        process.env.FAKE_BUILDERS = path.join(dir, "builders.json");
        return checkBuilders(targets, { docker: path.join(dir, "docker"), timeoutSeconds });
    };

    before(async () => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "imagefleet-preflight-"));
        fs.writeFileSync(path.join(dir, "docker"), FAKE_DOCKER, { mode: 0o755 });
        server = net.createServer((s) => s.end());
        await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
        live = `tcp://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
        // A port that was just free: nothing listens there.
        const probe = net.createServer();
        await new Promise<void>((r) => probe.listen(0, "127.0.0.1", r));
        closed = `tcp://127.0.0.1:${(probe.address() as net.AddressInfo).port}`;
        await new Promise((r) => probe.close(r));
    });

    after(() => {
        server.close();
        fs.rmSync(dir, { recursive: true, force: true });
        delete process.env.FAKE_BUILDERS;
    });

    it("passes builders that answer and build their platform", async () => {
        const r = await check({ a: { endpoint: live, bootstrap: "running", platforms: "linux/amd64*" }, b: { endpoint: live, bootstrap: "running", platforms: "linux/arm64*, linux/arm64/v8" } },
            [{ platform: "linux/amd64", builder: "a" }, { platform: "linux/arm64", builder: "b" }]);
        assert.deepEqual(r.map((s) => [s.builder, s.ok, s.endpoint, s.driver]), [["a", true, live, "remote"], ["b", true, live, "remote"]]);
    });

    it("names the refused endpoint without waiting for buildx's 20 s deadline", async () => {
        const start = Date.now();
        const [s] = await check({ a: { endpoint: closed, bootstrap: "deadline" } }, [{ platform: "linux/arm64", builder: "a" }]);
        assert.equal(s.ok, false);
        assert.equal(s.endpoint, closed);
        assert.match(s.reason!, /connection refused.*buildkitd is not running/);
        assert.ok(Date.now() - start < 3000, `took ${Date.now() - start} ms`);
    });

    it("reports buildx's own error when the port answers but BuildKit does not (TLS, wrong service)", async () => {
        const [s] = await check({ a: { endpoint: live, bootstrap: "deadline" } }, [{ platform: "linux/amd64", builder: "a" }]);
        assert.deepEqual([s.ok, s.reason], [false, "context deadline exceeded"]);
    });

    it("gives up on a builder that hangs after its timeout", async () => {
        const start = Date.now();
        const [s] = await check({ a: { endpoint: live, bootstrap: "hang" } }, [{ platform: "linux/amd64", builder: "a" }], 1);
        assert.deepEqual([s.ok, s.reason], [false, "no answer within 1 s"]);
        assert.ok(Date.now() - start < 5000);
    });

    it("reports a builder buildx does not know, and one that builds another platform", async () => {
        const r = await check({ a: { registered: false, bootstrap: "running" }, b: { endpoint: live, bootstrap: "running", platforms: "linux/amd64*" } },
            [{ platform: "linux/amd64", builder: "a" }, { platform: "linux/arm64", builder: "b" }]);
        assert.match(r[0].reason!, /not registered with buildx on this machine \(no builder "a" found\)/);
        assert.deepEqual([r[1].ok, r[1].reason], [false, "it builds linux/amd64, not linux/arm64"]);
    });

    it("checks a builder shared by two platforms once and judges each platform", async () => {
        const r = await check({ q: { endpoint: live, bootstrap: "running", platforms: "linux/amd64, linux/arm64" } },
            [{ platform: "linux/amd64", builder: "q" }, { platform: "linux/arm64", builder: "q" }]);
        assert.deepEqual(r.map((s) => s.ok), [true, true]);
    });

    it("passes everything when the docker CLI is missing (the provider does not need it)", async () => {
        const r = await checkBuilders([{ platform: "linux/amd64", builder: "a" }], { docker: path.join(dir, "no-such-docker") });
        assert.deepEqual(r.map((s) => s.ok), [true]);
    });

    describe("TLS, with the registration's own CA, client certificate and server name", () => {
        let pki = "";
        let a: FleetPems;
        let b: FleetPems;
        let host: tls.Server;
        let endpoint = "";
        const files = (p: FleetPems, name: string) => {
            const f = (what: string, pem: string) => {
                const file = path.join(pki, `${name}-${what}.pem`);
                fs.writeFileSync(file, pem);
                return file;
            };
            return { cacert: f("ca", p.ca.cert), cert: f("client", p.client.cert), key: f("client-key", p.client.key), servername: p.serverName };
        };

        before(async () => {
            pki = path.join(dir, "pki");
            a = fleetPems(path.join(pki, "a"), "fleet-a", "host-a", "127.0.0.1");
            b = fleetPems(path.join(pki, "b"), "fleet-b", "host-b", "127.0.0.1");
            // A builder host of fleet A: its server certificate, and A's CA for client certificates.
            host = tls.createServer({ cert: a.server.cert, key: a.server.key, ca: a.ca.cert, requestCert: true, rejectUnauthorized: true, ALPNProtocols: ["h2"] }, (s) => s.on("error", () => undefined));
            host.on("tlsClientError", () => undefined);
            await new Promise<void>((r) => host.listen(0, "127.0.0.1", r));
            endpoint = `tcp://127.0.0.1:${(host.address() as net.AddressInfo).port}`;
        });

        after(() => host.close());

        const one = async (opts: Record<string, string>) =>
            (await check({ x: { endpoint, bootstrap: "running", platforms: "linux/arm64", opts } }, [{ platform: "linux/arm64", builder: "x" }]))[0];

        it("passes the host of the CA it trusts, presenting its client certificate", async () => {
            assert.deepEqual([(await one(files(a, "a"))).ok], [true]);
        });

        it("refuses a host whose certificate another CA signed", async () => {
            const s = await one({ ...files(a, "a"), cacert: files(b, "b").cacert });
            assert.equal(s.ok, false);
            assert.match(s.reason!, /^the host's certificate is not signed by the CA buildx trusts for this builder \(.*b-ca\.pem\)/);
        });

        it("reports a host that refuses this machine's client certificate", async () => {
            const s = await one({ ...files(a, "a"), cert: files(b, "b").cert, key: files(b, "b").key });
            assert.equal(s.ok, false);
            assert.match(s.reason!, /^the host refused this machine's client certificate \(.*b-client\.pem\)/);
        });

        it("reports a certificate that does not name the registration's server name", async () => {
            const s = await one({ ...files(a, "a"), servername: "other.buildkit.imagefleet.internal" });
            assert.equal(s.ok, false);
            assert.match(s.reason!, /does not name "other\.buildkit\.imagefleet\.internal"/);
        });
    });

    it("one error names every dead builder with its platform and endpoint, and what to check", () => {
        const dead = [
            { platform: "linux/amd64", builder: "imagefleet-local-amd64", endpoint: "tcp://127.0.0.1:1234", driver: "remote", ok: false, reason: "connection refused" },
            { platform: "linux/arm64", builder: "imagefleet-local-arm64", ok: false, reason: "no answer within 30 s" },
        ];
        const err = { message: describeDeadBuilders('ImageFamily "example"', "local", dead, 2) };
        assert.match(err.message, /^ImageFamily "example" \(stack "local"\): 2 of 2 builders failed the pre-flight check, so none of their builds ran:/);
        assert.match(err.message, /- linux\/amd64: builder "imagefleet-local-amd64" at tcp:\/\/127\.0\.0\.1:1234 \(driver remote\): connection refused/);
        assert.match(err.message, /- linux\/arm64: builder "imagefleet-local-arm64": no answer within 30 s/);
        assert.match(err.message, /docker buildx inspect --bootstrap <builder>/);
        assert.match(err.message, /IMAGEFLEET_PREFLIGHT=off/);
    });

    describe("BuilderCheck, the check its platform's builds wait for", () => {
        const inputs = (builder: string, fingerprint = "f1"): BuilderCheckInputs =>
            ({ subject: 'ImageFamily "example"', stack: "local", platform: "linux/arm64", builder, pool: [], builds: ["example-runtime-arm64"], fingerprint });
        const withFakes = async <T>(fakes: Record<string, Fake>, fn: () => Promise<T>): Promise<T> => {
            fs.writeFileSync(path.join(dir, "builders.json"), JSON.stringify(fakes));
            process.env.FAKE_BUILDERS = path.join(dir, "builders.json");
            process.env.IMAGEFLEET_DOCKER = path.join(dir, "docker");
            process.env.IMAGEFLEET_PREFLIGHT_TIMEOUT = "5";
            try {
                return await fn();
            } finally {
                delete process.env.IMAGEFLEET_DOCKER;
                delete process.env.IMAGEFLEET_PREFLIGHT_TIMEOUT;
            }
        };

        it("runs (create or update) only when the fingerprint or the builder changes", async () => {
            const diff = (a: BuilderCheckInputs, b: BuilderCheckInputs) => builderCheckProvider.diff!("id", a, b).then((d) => d.changes);
            assert.equal(await diff(inputs("b"), inputs("b")), false);
            assert.equal(await diff(inputs("b"), { ...inputs("b"), stack: "other", subject: "x" }), false);
            assert.equal(await diff(inputs("b"), inputs("b", "f2")), true);
            assert.equal(await diff(inputs("b"), inputs("c")), true);
        });

        it("runs again for the same fingerprint when the pre-flight found its builder down with builds pending (it died mid-build)", async () => {
            const diff = (a: BuilderCheckInputs, b: BuilderCheckInputs) => builderCheckProvider.diff!("id", a, b).then((d) => d.changes);
            assert.equal(await diff(inputs("b"), { ...inputs("b"), recheck: "connection refused" }), true);
            assert.equal(await diff({ ...inputs("b"), recheck: "connection refused" }, { ...inputs("b"), recheck: "" }), false);
            // A state written before the field existed.
            assert.equal(await diff(inputs("b"), { ...inputs("b"), recheck: "" }), false);
        });

        it("passes a builder that answers for its platform", async () => {
            const r = await withFakes({ b: { endpoint: live, bootstrap: "running", platforms: "linux/arm64" } }, () => builderCheckProvider.create!(inputs("b")));
            assert.equal(r.outs.fingerprint, "f1");
        });

        it("fails a build's check on a dead builder, naming the family, stack, platform, builder, endpoint and what to check", async () => {
            const err = await withFakes({ b: { endpoint: closed, bootstrap: "deadline" } }, () => builderCheckProvider.update!("id", inputs("b"), inputs("b", "f2")).then(() => undefined, (e: Error) => e));
            assert.ok(err, "the check passed a dead builder");
            assert.match(err.message, /^ImageFamily "example" \(stack "local"\): 1 of 1 builder failed the pre-flight check, so none of its builds ran:/);
            assert.match(err.message, new RegExp(`- linux/arm64: builder "b" at ${closed.replace(/\./g, "\\.")} \\(driver remote\\): connection refused`));
            assert.match(err.message, /buildkitd\.sh start/);
        });

        it("fails a pool builder's check naming the builder, its builds, the pool's others and how to take it out", async () => {
            const member: BuilderCheckInputs = {
                ...inputs("imagefleet-local-arm64-1", "f2"),
                pool: ["imagefleet-local-arm64", "imagefleet-local-arm64-1"],
                builds: ["example-svc-01-arm64", "example-svc-04-arm64"],
            };
            const err = await withFakes({ "imagefleet-local-arm64-1": { endpoint: closed, bootstrap: "deadline" } },
                () => builderCheckProvider.create!(member).then(() => undefined, (e: Error) => e));
            assert.ok(err, "the check passed a dead builder");
            assert.match(err.message, /^ImageFamily "example" \(stack "local"\): builder "imagefleet-local-arm64-1" of the linux\/arm64 pool failed the pre-flight check, so its 2 builds did not run: example-svc-01-arm64, example-svc-04-arm64$/m);
            assert.match(err.message, new RegExp(`- linux/arm64: builder "imagefleet-local-arm64-1" at ${closed.replace(/\./g, "\\.")} \\(driver remote\\): connection refused`));
            assert.match(err.message, /The pool's other builder \("imagefleet-local-arm64"\) builds the rest of linux\/arm64/);
            assert.match(err.message, /take it out of the pool: drop it from builders\["linux\/arm64"\] \(stack config: imagefleet:builders\["linux\/arm64"\], listing the pool without it\)/);
        });

        it("serializes as functions and node's own modules, never a module of ours", async () => {
            // As pulumi.dynamic.Resource does: the provider object, bound to a local.
            const provider = builderCheckProvider;
            const { text } = await pulumi.runtime.serializeFunction(() => provider, { allowSecrets: false });
            assert.deepEqual(text.match(/var __\w+_\d+ = /g) ?? [], [], "captures a module");
            const required = [...new Set(text.match(/require\("[^"]+"\)/g) ?? [])];
            assert.deepEqual(required.filter((r) => !/^require\("(child_process|fs|net|tls)"\)$/.test(r)), [], required.join(", "));
        });
    });
});
