// The fleet's host setup, for real: buildkitd started with the buildkitd.toml
// the user data carries and certificates issued from the profiles the fleet
// gives @pulumi/tls; a buildx remote builder registered by the fleet's own
// provider code builds the example's runtime image; strangers are refused.
import { strict as assert } from "assert";
import { X509Certificate } from "crypto";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as YAML from "yaml";
import { BuilderFleetArgs } from "../../components/builders";
import { buildxProvider, RegistrationState } from "../../components/builders/registration";
import { hostConfigOf } from "../../components/builders/userData";
import { Buildkitd, BUILDCTL, BUILDKITD, buildctl, freePort } from "./fleet/buildkitd";
import { fleetPems, issue } from "./fleet/certs";
import { caProfile, clientProfile } from "../../components/builders/certificates";

const ROOT = path.resolve(__dirname, "..", "..");
const REGISTRY = "registry.localhost:5000";
const REGISTRY_HTTP = process.env.IMAGEFLEET_REGISTRY_HTTP ?? "https://registry.localhost:5000";
const REGISTRY_CA = process.env.IMAGEFLEET_REGISTRY_CA ?? "/var/lib/imagefleet-e2e/registry/tls/ca.pem";
const STRICT = !!process.env.IMAGEFLEET_E2E;
// How a refused handshake looks from the client: the server's TLS alert, or,
// when the server hangs up before the client reads it, a broken connection.
// Go's client offers no certificate that the server's CA list does not name,
// so a stranger's certificate also ends as "certificate required".
const REFUSED = /certificate required|bad certificate|unknown certificate authority|broken pipe|connection reset by peer/i;

/** The committed dev fleet, as the stack would pass it (only the port differs). */
function devFleetArgs(port: number): BuilderFleetArgs {
    const doc = YAML.parse(fs.readFileSync(path.join(ROOT, "stacks", "Pulumi.dev.yaml"), "utf8"));
    return { ...doc.config["imagefleet:fleet"], cacheVolumeGiB: 20, port };
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): { code: number; out: string } {
    const r = spawnSync(cmd, args, { cwd: ROOT, encoding: "utf8", env: { ...process.env, ...env }, maxBuffer: 64 * 1024 * 1024 });
    return { code: r.status ?? -1, out: `${r.stdout ?? ""}${r.stderr ?? ""}${r.error ?? ""}` };
}

async function registryHas(repo: string, ref: string): Promise<boolean> {
    try {
        const res = await fetch(`${REGISTRY_HTTP}/v2/${repo}/manifests/${ref}`, {
            method: "HEAD",
            headers: { Accept: "application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.manifest.v1+json" },
        });
        return res.status === 200;
    } catch {
        return false;
    }
}

describe("a fleet host, for real (buildkitd + mTLS + buildx remote)", function () {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "imagefleet-fleet-e2e-"));
    const other = path.join(dir, "other-ca");
    let host: Buildkitd;

    before(async function () {
        if (!fs.existsSync(BUILDKITD) || !fs.existsSync(BUILDCTL)) {
            if (STRICT) {
                throw new Error(`IMAGEFLEET_E2E is set but ${BUILDKITD} or ${BUILDCTL} is missing: run scripts/build-tools.sh`);
            }
            this.skip();
        }
        const port = await freePort();
        const config = hostConfigOf(devFleetArgs(port), "linux/amd64");
        host = new Buildkitd(path.join(dir, "host"), config, fleetPems(path.join(dir, "pki"), "imagefleet-dev", "imagefleet-dev-amd64-0", "127.0.0.1"), { [REGISTRY]: [REGISTRY_CA] });
        await host.start();
    });

    after(async () => {
        await host?.stop();
        fs.rmSync(dir, { recursive: true, force: true });
    });

    it("issues certificates that carry the fleet's subjects, SANs and uses and chain to the fleet's CA", () => {
        const ca = new X509Certificate(host.pems.ca.cert);
        const server = new X509Certificate(host.pems.server.cert);
        const client = new X509Certificate(host.pems.client.cert);
        assert.equal(ca.ca, true);
        assert.match(ca.subject, /CN=imagefleet-dev BuildKit CA/);
        assert.equal(server.ca, false);
        assert.equal(server.subjectAltName, `DNS:${host.pems.serverName}, IP Address:127.0.0.1`);
        assert.equal(server.checkHost(host.pems.serverName), host.pems.serverName);
        assert.equal(server.checkIP("127.0.0.1"), "127.0.0.1");
        assert.deepEqual(server.keyUsage, ["1.3.6.1.5.5.7.3.1"], "server_auth only");
        assert.deepEqual(client.keyUsage, ["1.3.6.1.5.5.7.3.2"], "client_auth only");
        assert.ok(server.verify(ca.publicKey) && client.verify(ca.publicKey));
        assert.equal(ca.publicKey.asymmetricKeyDetails?.namedCurve, "prime256v1");
    });

    it("runs with the fleet's buildkitd.toml: one platform, GC policy from the cache volume, RUN steps on a bridge", () => {
        assert.ok(host.toml.includes(`address = ["tcp://127.0.0.1:${host.host.port}", "unix://${path.join(host.dir, "attestor.sock")}"]`), host.toml);
        const workers = buildctl(host.addr, host.fleetClient, "debug", "workers", "--verbose");
        assert.equal(workers.code, 0, workers.out);
        // The host's platform comes first; BuildKit appends what this machine's QEMU can emulate (a fleet host has none).
        assert.match(workers.out, /Platforms:\s+linux\/amd64[,\n]/);
        assert.match(workers.out, /GC Policy rule#0:[\s\S]*Keep duration:\s+168h/);
        // BuildKit's bridge mode runs through CNI (its label says so); host networking would read "host".
        assert.match(workers.out, /org\.mobyproject\.buildkit\.worker\.network:\s+cni/);
        // 80 % and 10 % of the 20 GiB volume; BuildKit reads "GB" as GiB.
        assert.match(workers.out, /GC Policy rule#1:\s+All:\s+true\s+Minimum free space:\s+2\.147483648GB\s+Maximum used space:\s+17\.179869184GB/);
    });

    it("refuses a client with no certificate", () => {
        const r = buildctl(host.addr, { caFile: host.fleetClient.caFile, serverName: host.pems.serverName }, "debug", "workers");
        assert.notEqual(r.code, 0, r.out);
        assert.match(r.out, REFUSED);
    });

    it("refuses a client whose certificate another CA issued, and a client that trusts another CA refuses the host", () => {
        const otherCa = issue(other, "ca", caProfile("stranger", 24 * 365));
        const stranger = issue(other, "client", clientProfile("stranger", 24 * 365), otherCa);
        fs.writeFileSync(path.join(other, "client.pem"), stranger.cert);
        fs.writeFileSync(path.join(other, "client-key.pem"), stranger.key, { mode: 0o600 });
        fs.writeFileSync(path.join(other, "ca-only.pem"), otherCa.cert);
        const r = buildctl(host.addr, { ...host.fleetClient, certFile: path.join(other, "client.pem"), keyFile: path.join(other, "client-key.pem") }, "debug", "workers");
        assert.notEqual(r.code, 0, r.out);
        assert.match(r.out, REFUSED);
        const trustsOther = buildctl(host.addr, { ...host.fleetClient, caFile: path.join(other, "ca-only.pem") }, "debug", "workers");
        assert.notEqual(trustsOther.code, 0, trustsOther.out);
        assert.match(trustsOther.out, /certificate signed by unknown authority|x509/i);
        // A name the certificate was not issued for is refused too.
        const wrongName = buildctl(host.addr, { ...host.fleetClient, serverName: "elsewhere.buildkit.imagefleet.internal" }, "debug", "workers");
        assert.notEqual(wrongName.code, 0, wrongName.out);
        assert.match(wrongName.out, /certificate is valid for .*, not elsewhere/);
    });

    it("builds the example's runtime image through a buildx remote builder registered with the fleet's client certificate", async function () {
        const buildx = run("docker", ["buildx", "version"]);
        const ready = buildx.code === 0 && await registryHas("base/debian", "bookworm") && await registryHas("base/busybox", "1.36");
        if (!ready) {
            if (STRICT) {
                throw new Error(`IMAGEFLEET_E2E is set but docker buildx or the registry's base images are missing (test/e2e/setup.sh): ${buildx.out}`);
            }
            this.skip();
        }
        // The builder lives in a private buildx config, so no other builder on this machine is touched.
        const buildxConfig = path.join(dir, "buildx");
        const env = { BUILDX_CONFIG: buildxConfig };
        const saved = process.env.BUILDX_CONFIG;
        process.env.BUILDX_CONFIG = buildxConfig;
        const state: RegistrationState = {
            builderName: `imagefleet-e2e-fleet-${process.pid}`,
            platform: "linux/amd64",
            nodes: [{ endpoint: host.addr, serverName: host.pems.serverName }],
            caPem: host.pems.ca.cert,
            certPem: host.pems.client.cert,
            keyPem: host.pems.client.key,
            certDir: path.join(dir, "client-certs"),
            waitSeconds: 60,
        };
        try {
            await buildxProvider.create!(state);
            // What the provider's diff looks for to know the builder exists on this machine.
            assert.ok(fs.existsSync(path.join(buildxConfig, "instances", state.builderName)));
            assert.equal(fs.statSync(path.join(dir, "client-certs", "key.pem")).mode & 0o777, 0o600);
            const tag = `${REGISTRY}/imagefleet-e2e/fleet-runtime:${process.pid}-${Date.now()}`;
            const context = path.join(ROOT, "example");
            const bake = {
                target: {
                    "dev-env": { context, dockerfile: "dev-env.Dockerfile", args: { BASE_IMAGE: `${REGISTRY}/base/debian:bookworm` }, platforms: ["linux/amd64"] },
                    artifact: {
                        context, dockerfile: "artifact.Dockerfile", contexts: { "dev-env": "target:dev-env" },
                        args: { BUSYBOX_IMAGE: `${REGISTRY}/base/busybox:1.36`, FUNCTIONS: "200" }, platforms: ["linux/amd64"],
                    },
                    runtime: {
                        context, dockerfile: "runtime.Dockerfile", contexts: { artifact: "target:artifact" },
                        args: { BASE_IMAGE: `${REGISTRY}/base/debian:bookworm` }, platforms: ["linux/amd64"],
                        output: [`type=image,name=${tag},push=true`],
                    },
                },
            };
            const bakeFile = path.join(dir, "bake.json");
            fs.writeFileSync(bakeFile, JSON.stringify(bake));
            const r = run("docker", ["buildx", "bake", "--builder", state.builderName, "--progress", "plain", "-f", bakeFile, "runtime"], env);
            assert.equal(r.code, 0, `${r.out.slice(-6000)}\n--- buildkitd log\n${host.log()}`);
            assert.match(r.out, /RUN \/usr\/local\/bin\/hello/);
            const [repo, ref] = tag.slice(REGISTRY.length + 1).split(":");
            assert.ok(await registryHas(repo, ref), `${tag} was not pushed`);
            // The build really went through the fleet host.
            const history = buildctl(host.addr, host.fleetClient, "du");
            assert.equal(history.code, 0, history.out);
            assert.match(history.out, /Total:/);
        } finally {
            await buildxProvider.delete!("", state);
            process.env.BUILDX_CONFIG = saved;
            if (saved === undefined) {
                delete process.env.BUILDX_CONFIG;
            }
        }
        assert.equal(fs.existsSync(path.join(buildxConfig, "instances", state.builderName)), false, "delete removes the builder");
        assert.equal(fs.existsSync(path.join(dir, "client-certs")), false, "delete removes the client certificates");
    });
});
