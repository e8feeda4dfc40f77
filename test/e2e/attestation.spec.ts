// The builders attest what they build, and RUN steps cannot reach the host
// (issue 30). Real hosts (test/e2e/buildkitd.sh, this lane's set) with their
// attestors on (`buildkitd.sh attestors start`: scripts/tools/attestor beside
// each buildkitd, reading BuildKit's history over the host's root-only
// socket, signing with cosign and the host's own key, SBOMs by syft), the
// real engine and provider, the example family on both platforms. What the
// host signed is compared with what the host's own BuildKit recorded, read
// here with buildctl.
import { strict as assert } from "assert";
import * as crypto from "crypto";
import * as fs from "fs";
import * as http from "http";
import * as os from "os";
import * as path from "path";
import * as YAML from "yaml";
import { ProvenanceStatement, statementsOf } from "../../components/supplychain/checks";
import { attest, generateKey, keyFrom, RegistryClient, SLSA, SPDX } from "./forge";
import { attestorKeys, attestorPub, builderName, CERTS, hostClientArgs, hostPort, HOST_SET, localBuilders, verifyAttestation } from "./hosts";
import { Project } from "./project";
import { must, requireEngine, sh, sleep } from "./support";

const TOOLS_BIN = path.join(process.env.IMAGEFLEET_TOOLS_DIR ?? path.join(os.homedir(), ".cache", "imagefleet", "tools"), "bin");
const STATE_DIR = process.env.IMAGEFLEET_STATE_DIR ?? "/var/lib/imagefleet-e2e";
const ARCHES = ["amd64", "arm64"] as const;
const PLATFORM = { amd64: "linux/amd64", arm64: "linux/arm64" } as const;
const IMAGES = ["dev-env", "artifact", "runtime"] as const;
/** Where buildkitd.sh keeps a host of a set (`local`: buildkit, others: buildkit-<set>). */
const hostDir = (set: string, host: string) => path.join(STATE_DIR, set === "local" ? "buildkit" : `buildkit-${set}`, host);

function buildctl(port: number, ...args: string[]): string[] {
    return [...hostClientArgs(port), ...args];
}


/** The provenances BuildKit recorded on a host for every build record that pushed `digest` to `repository`. */
function historyProvenances(port: number, repository: string, digest: string): any[] {
    const listed = must(path.join(TOOLS_BIN, "buildctl"), buildctl(port, "--timeout", "30", "debug", "histories", "--format", "json"));
    const records = listed.stdout.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l).record ?? {})
        .filter((r) => (r.Exporters ?? []).some((e: any) => String(e.Attrs?.name ?? "").startsWith(`${repository}:`)) && r.Result?.ResultDeprecated?.digest === digest);
    assert.ok(records.length > 0, `no build record on port ${port} pushed ${repository}@${digest}`);
    return records.map((record) => {
        const blob = (record.Result.Attestations ?? []).find((a: any) => a.annotations?.["in-toto.io/predicate-type"] === "https://slsa.dev/provenance/v1");
        assert.ok(blob, `the record ${record.Ref} holds no SLSA v1 provenance`);
        return JSON.parse(must(path.join(TOOLS_BIN, "buildctl"), buildctl(port, "debug", "get", blob.digest)).stdout);
    });
}

/** JSON with every object's keys sorted: cosign re-encodes the predicate (protobuf Struct), which reorders them. */
const canonical = (v: any): string => JSON.stringify(v, (_k, x) => x && typeof x === "object" && !Array.isArray(x)
    ? Object.fromEntries(Object.keys(x).sort().map((k) => [k, x[k]])) : x);

const withoutBuilderId = (p: any) => ({ ...p, runDetails: { ...p.runDetails, builder: { ...p.runDetails.builder, id: undefined } } });

/** Polls until cosign verifies an attestation of `type` by `key` on `subject` (the host attests after the push), at most `ms`. */
async function waitForAttestation(key: string, type: "slsaprovenance1" | "spdxjson", subject: string, ms = 5 * 60 * 1000): Promise<ProvenanceStatement[]> {
    for (const deadline = Date.now() + ms; ;) {
        const r = verifyAttestation(key, type, subject);
        const found = r.code === 0 ? statementsOf(r.stdout) : [];
        if (found.length > 0 || Date.now() > deadline) {
            return found;
        }
        await sleep(2000);
    }
}

const ok = <T extends { code: number; stdout: string; stderr: string }>(r: T, what: string): T => {
    assert.equal(r.code, 0, `${what} exited ${r.code}\n${r.stdout.slice(-6000)}\n${r.stderr.slice(-4000)}`);
    return r;
};

describe("builders attest what they build; RUN steps cannot reach the host", function () {
    this.timeout(40 * 60 * 1000);
    const id = crypto.randomBytes(4).toString("hex");
    const namespace = `e2e-attest-${id}`;
    let project: Project | undefined;
    let upEnded = 0;
    const verifiedAfterUp: number[] = [];

    before(() => {
        requireEngine();
        must("bash", ["test/e2e/buildkitd.sh", "attestors", "start"]);
    });

    after(() => {
        project?.remove();
        sh("bash", ["test/e2e/buildkitd.sh", "attestors", "stop"]);
    });

    describe("RUN steps", () => {
        // The metadata stand-in: 169.254.169.254 on the loopback, as EC2's is one hop from a host.
        const requests: string[] = [];
        const servers: http.Server[] = [];
        const HOST_PORT = 18000 + (process.pid % 1000);
        let addedAddress = false;

        before(async () => {
            addedAddress = sh("ip", ["addr", "add", "169.254.169.254/32", "dev", "lo"]).code === 0;
            const handler = (req: http.IncomingMessage, res: http.ServerResponse) => {
                requests.push(`${req.socket.localAddress}:${req.socket.localPort} ${req.method} ${req.url} from ${req.socket.remoteAddress}`);
                res.end("role-credentials\n");
            };
            for (const [port, host] of [[80, "169.254.169.254"], [HOST_PORT, "0.0.0.0"]] as const) {
                const server = http.createServer(handler);
                await new Promise<void>((resolve, reject) => server.once("error", reject).listen(port, host, resolve));
                servers.push(server);
            }
        });

        after(async () => {
            await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
            if (addedAddress) {
                sh("ip", ["addr", "del", "169.254.169.254/32", "dev", "lo"]);
            }
        });

        it("on every local host (both sets), a RUN step reaches neither the metadata stand-in, the host's ports, its TLS key nor the attestor's key, and still reaches the package mirror; --network=host is refused", async () => {
            // The stand-ins answer the host itself: what the builds do not reach is there.
            const control = await fetch("http://169.254.169.254/latest/meta-data/");
            assert.equal(await control.text(), "role-credentials\n");
            requests.length = 0;
            const hosts = [...new Set(["local", HOST_SET])].flatMap((set) => ARCHES.map((arch) => ({ set, arch })));
            for (const { set, arch } of hosts) {
                const port = set === HOST_SET ? hostPort(arch) : ({ amd64: 1234, arm64: 1235 })[arch];
                const dir = fs.mkdtempSync(path.join(os.tmpdir(), "imagefleet-probe-"));
                const refused = (what: string, probe: string) =>
                    `RUN if ${probe}; then echo "REACHED ${what}"; exit 1; else echo "refused: ${what}"; fi`;
                const tcp = (host: string, p: number | string) => `timeout 5 bash -c 'exec 3<>/dev/tcp/${host}/${p}' 2>/dev/null`;
                fs.writeFileSync(path.join(dir, "Dockerfile"), [
                    "FROM registry.localhost:5000/base/debian:bookworm",
                    'SHELL ["/bin/bash", "-c"]',
                    refused("metadata service", tcp("169.254.169.254", 80)),
                    refused("host loopback", tcp("127.0.0.1", HOST_PORT)),
                    // The bridge's gateway is the host, the one address a bridge always reaches.
                    "RUN awk 'NR>1 && $2==\"00000000\" {printf \"%d.%d.%d.%d\", \"0x\" substr($3,7,2), \"0x\" substr($3,5,2), \"0x\" substr($3,3,2), \"0x\" substr($3,1,2)}' /proc/net/route >/gateway && echo \"gateway $(cat /gateway)\"",
                    refused("host through the bridge", `timeout 5 bash -c "exec 3<>/dev/tcp/$(cat /gateway)/${HOST_PORT}" 2>/dev/null`),
                    refused("buildkitd's TLS key", `cat ${path.join(CERTS, "server-key.pem")} >/dev/null 2>&1`),
                    refused("the attestor's key", `cat ${path.join(hostDir(set, arch), "attestor", "cosign.key")} >/dev/null 2>&1`),
                    // Builds that need the network still have it: the package mirror the base image names.
                    "RUN host=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || awk '/^deb / {print $2; exit}' /etc/apt/sources.list); " +
                        "host=${host#*://}; host=${host%%/*}; exec 3<>/dev/tcp/$host/80 && printf 'HEAD /debian/dists/bookworm/Release HTTP/1.1\\r\\nHost: %s\\r\\nConnection: close\\r\\n\\r\\n' \"$host\" >&3 && head -1 <&3 | sed 's/^/mirror: /'",
                    "",
                ].join("\n"));
                const r = sh(path.join(TOOLS_BIN, "buildctl"), buildctl(port, "build", "--frontend", "dockerfile.v0", "--local", `context=${dir}`,
                    "--local", `dockerfile=${dir}`, "--opt", `platform=${PLATFORM[arch]}`, "--no-cache", "--progress", "plain"));
                const out = `${r.stdout}\n${r.stderr}`;
                assert.equal(r.code, 0, `the probe build on ${set}/${arch} (port ${port}) failed:\n${out.slice(-4000)}`);
                for (const what of ["metadata service", "host loopback", "host through the bridge", "buildkitd's TLS key", "the attestor's key"]) {
                    assert.ok(out.includes(`refused: ${what}`), `${set}/${arch}: no "refused: ${what}" in\n${out.slice(-3000)}`);
                }
                assert.match(out, /mirror: HTTP\/1\.[01] [23]\d\d/, `${set}/${arch}: the mirror was not reached:\n${out.slice(-1500)}`);

                fs.writeFileSync(path.join(dir, "Dockerfile"), "FROM registry.localhost:5000/base/debian:bookworm\nRUN --network=host true\n");
                const hostNet = sh(path.join(TOOLS_BIN, "buildctl"), buildctl(port, "build", "--frontend", "dockerfile.v0", "--local", `context=${dir}`,
                    "--local", `dockerfile=${dir}`, "--opt", `platform=${PLATFORM[arch]}`, "--progress", "plain"));
                assert.notEqual(hostNet.code, 0, `${set}/${arch}: RUN --network=host was allowed`);
                assert.match(`${hostNet.stdout}\n${hostNet.stderr}`, /network\.host is not allowed/);
                fs.rmSync(dir, { recursive: true, force: true });
            }
            assert.deepEqual(requests, [], "the stand-ins saw a request from a build");
        });
    });

    describe("the example family on attesting hosts", () => {
        let attestedBy: Record<string, Record<string, { builder: string; key: string; digest: string; dockerfileSha256: string; buildArgs: Record<string, string> }>>;
        let verifyKey: string;
        let repositoryOf: (image: string) => string;

        before(() => {
            project = new Project({ branch: `e2e-attest-${id}`, namespace });
            project.editStackConfig((config) => {
                config["imagefleet:builders"] = localBuilders();
                const sc = config["imagefleet:supplychain"] as Record<string, unknown>;
                config["imagefleet:supplychain"] = { ...sc, attestors: attestorKeys() };
            }, "the family on attesting hosts");
        });

        it("up ends when the indexes and tags are published: no deployer-side SBOM, provenance or signature is made, and the outputs name each build's host key", () => {
            const up = ok(project!.run("up"), "the cold up");
            upEnded = Date.now();
            const types = up.resources.map((r) => r.type);
            assert.ok(!types.some((t) => /supplychain:(PlatformAttestation|IndexAttestation)$/.test(t)), `deployer-side records: ${types.filter((t) => t.includes("supplychain")).join(", ")}`);
            const outputs = project!.outputs();
            attestedBy = outputs.supplychain.attestedBy;
            verifyKey = outputs.supplychain.verifyKey;
            assert.deepEqual(Object.keys(attestedBy).sort(), [...IMAGES].sort());
            for (const image of IMAGES) {
                for (const arch of ARCHES) {
                    const a = attestedBy[image][PLATFORM[arch]];
                    assert.equal(a.builder, builderName(arch));
                    assert.equal(a.key, fs.readFileSync(attestorPub(arch), "utf8"));
                }
            }
            const refs = outputs.refs as Record<string, string>;
            // repo:tag@sha256:… → repo
            repositoryOf = (image) => refs[image].slice(0, refs[image].indexOf("@")).replace(/:[^/]*$/, "");
        });

        it("every platform manifest gets a provenance signed by its host's key, equal to what that host's BuildKit recorded (materials, build args, Dockerfile, BuildKit version) bar builder.id; the deployer's key does not verify it; its SBOM lists the image's packages", async () => {
            assert.ok(attestedBy, "the up did not run");
            const buildkitVersion = / (v\d+\.\d+\.\d+\S*)/.exec(must(path.join(TOOLS_BIN, "buildkitd"), ["--version"]).stdout)![1];
            const deployerKey = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "imagefleet-deployer-")), "cosign.pub");
            fs.writeFileSync(deployerKey, verifyKey);
            for (const image of IMAGES) {
                for (const arch of ARCHES) {
                    const expected = attestedBy[image][PLATFORM[arch]];
                    const repository = repositoryOf(image);
                    const subject = `${repository}@${expected.digest}`;
                    const found = await waitForAttestation(attestorPub(arch), "slsaprovenance1", subject);
                    const sboms = await waitForAttestation(attestorPub(arch), "spdxjson", subject);
                    assert.ok(found.length > 0 && sboms.length > 0, `no provenance or no SBOM signed by ${builderName(arch)}'s key on ${subject} within 5 minutes (attestor log: ${path.join(hostDir(HOST_SET, arch), "attestor.log")})`);
                    verifiedAfterUp.push((Date.now() - upEnded) / 1000);
                    assert.equal(sboms[0].predicateType, "https://spdx.dev/Document");
                    const [statement] = found;
                    // BuildKit's predicate, whose fields the deployer's PredicateView does not type.
                    const p = statement.predicate as any;
                    assert.equal(statement.predicateType, "https://slsa.dev/provenance/v1");
                    assert.deepEqual(statement.subjectDigests, [expected.digest]);
                    // One of the host's records of this push (a rebuild of the same digest is a record of its own) is exactly what was signed.
                    const recorded = historyProvenances(hostPort(arch), repository, expected.digest);
                    const signed = canonical(withoutBuilderId(statement.predicate));
                    const same = recorded.find((r) => canonical(withoutBuilderId(r)) === signed);
                    if (same === undefined) {
                        assert.deepEqual(withoutBuilderId(statement.predicate), withoutBuilderId(recorded[0]), `${image} ${arch}: the signed predicate is none of the host's ${recorded.length} record(s)`);
                    }
                    assert.match(p.runDetails.builder.id, new RegExp(`^https://imagefleet\\.dev/attestor/v1/.+/${builderName(arch)}$`));
                    // What the stack asked for is what BuildKit recorded.
                    assert.equal(p.buildDefinition.internalParameters.buildkitVersion, buildkitVersion);
                    for (const [k, v] of Object.entries(expected.buildArgs)) {
                        assert.equal(p.buildDefinition.externalParameters.request.args[`build-arg:${k}`], v, `${image} ${arch}: build arg ${k}`);
                    }
                    const dockerfile = Buffer.from(p.runDetails.metadata.buildkit_metadata.source.infos[0].data, "base64");
                    assert.equal(crypto.createHash("sha256").update(dockerfile).digest("hex"), expected.dockerfileSha256, `${image} ${arch}: the Dockerfile`);
                    const materials = p.buildDefinition.resolvedDependencies as { uri: string; digest?: { sha256?: string } }[];
                    assert.ok(materials.length > 0 && materials.every((d) => /^[0-9a-f]{64}$/.test(d.digest?.sha256 ?? "")), `${image} ${arch}: materials without a digest: ${JSON.stringify(materials)}`);

                    const byDeployer = verifyAttestation(deployerKey, "slsaprovenance1", subject);
                    assert.notEqual(byDeployer.code, 0, `${subject}: the deployer's key verified a host's provenance`);

                    const packages: string[] = (sboms[0].predicate as any).packages.map((x: any) => x.name);
                    // dev-env and runtime are Debian images; artifact ships the binary on busybox.
                    assert.ok(packages.length > 0, `${image} ${arch}: an empty SBOM`);
                    const wanted = image === "artifact" ? [] : image === "dev-env" ? ["base-files", "bash", "gcc", "make"] : ["base-files", "bash"];
                    for (const name of wanted) {
                        assert.ok(packages.includes(name), `${image} ${arch}: the SBOM's ${packages.length} packages lack ${name}: ${packages.slice(0, 20).join(", ")}`);
                    }
                }
            }
            const sorted = [...verifiedAfterUp].sort((a, b) => a - b);
            console.log(`      attestations verified after the end of up: median ${sorted[Math.floor(sorted.length / 2)].toFixed(1)} s, max ${sorted[sorted.length - 1].toFixed(1)} s (${sorted.length} manifests)`);
        });

        it("an attestor that was down when a build finished attests it when it comes back (BuildKit replays its stored records), and no record twice", async () => {
            assert.ok(attestedBy, "the up did not run");
            sh("bash", ["test/e2e/buildkitd.sh", "attestors", "stop"]);
            project!.change("example/runtime.Dockerfile", (t) => t.replace("RUN /usr/local/bin/hello", `RUN /usr/local/bin/hello && echo ${id} > /etc/imagefleet-change`),
                "a runtime change while the attestors are down");
            ok(project!.run("up"), "the up with the attestors down");
            const digest = project!.outputs().supplychain.attestedBy.runtime["linux/amd64"].digest as string;
            assert.notEqual(digest, attestedBy.runtime["linux/amd64"].digest, "the change made no new runtime digest");
            const subject = `${repositoryOf("runtime")}@${digest}`;
            assert.notEqual(verifyAttestation(attestorPub("amd64"), "slsaprovenance1", subject).code, 0, "attested while its attestor was down");
            must("bash", ["test/e2e/buildkitd.sh", "attestors", "start"]);
            const verified = await waitForAttestation(attestorPub("amd64"), "slsaprovenance1", subject);
            assert.ok(verified.length > 0, `${subject} was not attested after the attestor came back`);
            const log = fs.readFileSync(path.join(hostDir(HOST_SET, "amd64"), "attestor", "state", "attested.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l).ref);
            assert.equal(new Set(log).size, log.length, "a record was attested twice");
        });

        describe("a second stack promotes from it, verifying the builders' word", () => {
            const PROMOTE = "local-promote";
            const registry = new RegistryClient("registry.localhost:5000");
            let source: Record<string, any>;
            let saved = "";
            const promotedTags = async () => Object.fromEntries(await Promise.all(IMAGES.map(async (image) =>
                [image, (await registry.get(`${namespace}-prod/${image}`, PROMOTE)).digest ?? null])));
            /** The promoting stack's file: the source's key and builders, and the hosts' keys this stack trusts. */
            const writePromote = (waitSeconds: number) => {
                const local = YAML.parse(fs.readFileSync(path.join(project!.dir, "stacks", "Pulumi.local.yaml"), "utf8")).config;
                const config = {
                    "imagefleet:registry": { ...local["imagefleet:registry"], namespace: `${namespace}-prod` },
                    "imagefleet:platforms": ["linux/amd64", "linux/arm64"],
                    "imagefleet:promoteFrom": "organization/imagefleet/local",
                    "imagefleet:supplychain": {
                        sourceRepository: local["imagefleet:supplychain"].sourceRepository,
                        verify: {
                            key: source.supplychain.verifyKey, builders: ARCHES.map((a) => builderName(a)),
                            builderKeys: attestorKeys(), waitSeconds,
                        },
                    },
                };
                fs.writeFileSync(path.join(project!.dir, "stacks", `Pulumi.${PROMOTE}.yaml`), YAML.stringify({ config }));
            };

            before(() => {
                assert.ok(attestedBy, "the up did not run");
                source = project!.outputs();
                saved = ok(project!.pulumi("stack", "export"), "stack export").stdout;
                writePromote(300);
                const init = project!.pulumiOn(PROMOTE, "stack", "init", "--secrets-provider", "passphrase");
                assert.equal(init.code, 0, init.stderr);
            });

            it("promotes the genuine source once every platform's host has attested it: every prod tag is the digest the source published", async () => {
                const up = project!.pulumiOn(PROMOTE, "up", "--yes");
                assert.equal(up.code, 0, `${up.stdout.slice(-4000)}\n${up.stderr.slice(-4000)}`);
                const tags = await promotedTags();
                for (const image of IMAGES) {
                    assert.equal(tags[image], (source.refs[image] as string).split("@")[1], `${image}: the prod tag`);
                }
            });

            it("refuses, before any prod tag moves, a provenance signed by the deployer's key, a host key of another fleet, and a host's provenance of another build copied over", async () => {
                const before = await promotedTags();
                const work = fs.mkdtempSync(path.join(os.tmpdir(), "imagefleet-attest-tamper-"));
                // The building stack's own key (the deployer's), from its state, and a key of another fleet's host.
                const plain = JSON.parse(ok(project!.pulumi("stack", "export", "--show-secrets"), "stack export").stdout);
                const pair = plain.deployment.resources.find((x: any) => x.type === "pulumi-nodejs:dynamic/supplychain:CosignKeyPair").outputs;
                const secret = (v: any) => (typeof v === "string" ? v : JSON.parse(v.plaintext));
                const deployer = keyFrom(work, "deployer", secret(pair.privateKey), secret(pair.password), source.supplychain.verifyKey);
                const stranger = generateKey(work, "stranger");
                const state = JSON.parse(saved);
                const outputs = state.deployment.resources.find((r: any) => r.type === "pulumi:pulumi:Stack").outputs;
                /** A rebuilt arm64 manifest of `image`, in an index beside the genuine amd64 one; the source's outputs then name both. */
                const forgeArm64 = async (image: string, label: string, builder?: string) => {
                    const repo = repositoryOf(image).replace(/^[^/]+\//, "");
                    const genuine = attestedBy[image]["linux/arm64"];
                    const index = await registry.get(repo, (source.refs[image] as string).split("@")[1]);
                    const held = structuredClone(index.body.manifests) as { digest: string; size: number; platform?: { architecture: string } }[];
                    const arm64 = held.find((m) => m.platform?.architecture === "arm64")!;
                    const rebuilt = await registry.variantOf(repo, genuine.digest, label);
                    Object.assign(arm64, { digest: rebuilt.digest, size: rebuilt.size });
                    const forged = await registry.variantOf(repo, index.digest!, label, { manifests: held });
                    outputs.refs[image] = `${(source.refs[image] as string).split("@")[0]}@${forged.digest}`;
                    outputs.supplychain.attestedBy[image]["linux/arm64"] = { ...genuine, digest: rebuilt.digest, ...(builder ? { builder } : {}) };
                    return { repo, genuine: genuine.digest, rebuilt, ref: registry.ref(repo, rebuilt.digest) };
                };
                const hostPredicate = (await waitForAttestation(attestorPub("arm64"), "slsaprovenance1", `${repositoryOf("runtime")}@${attestedBy.runtime["linux/arm64"].digest}`))[0].predicate;
                // runtime: rebuilt off the fleet, its records signed with the deployer's key (the host's predicate, word for word).
                const r = await forgeArm64("runtime", "deployer-signed");
                attest(deployer, r.ref, "slsaprovenance1", hostPredicate);
                attest(deployer, r.ref, "spdxjson", { spdxVersion: "SPDX-2.3", packages: [] });
                // artifact: said to be built on another fleet's host, whose key signed it.
                const a = await forgeArm64("artifact", "other-fleet", "imagefleet-stranger-arm64");
                attest(stranger, a.ref, "slsaprovenance1", hostPredicate);
                attest(stranger, a.ref, "spdxjson", { spdxVersion: "SPDX-2.3", packages: [] });
                // dev-env: the host's genuine records of the genuine build, copied onto a rebuild.
                const d = await forgeArm64("dev-env", "copied");
                await registry.copyReferrer(d.repo, d.genuine, d.rebuilt, SLSA);
                await registry.copyReferrer(d.repo, d.genuine, d.rebuilt, SPDX);
                try {
                    fs.writeFileSync(path.join(work, "tampered.json"), JSON.stringify(state));
                    ok(project!.pulumi("stack", "import", "--file", path.join(work, "tampered.json")), "stack import");
                    writePromote(20);
                    const up = project!.pulumiOn(PROMOTE, "up", "--yes");
                    const text = `${up.stdout}\n${up.stderr}`;
                    assert.notEqual(up.code, 0, "the tampered sources were promoted");
                    const at = (image: string, digest: string) => `image ${JSON.stringify(image)} \\(.*\\): provenance of linux/arm64 \\(${repositoryOf(image).replace(/\./g, "\\.")}@${digest}\\): `;
                    assert.match(text, new RegExp(`${at("runtime", r.rebuilt.digest)}no SLSA provenance (and SPDX SBOM )?signed by "${builderName("arm64")}"'s key after waiting 20 s`));
                    assert.match(text, new RegExp(`${at("artifact", a.rebuilt.digest)}built on "imagefleet-stranger-arm64", which is not a builder this stack trusts to attest`));
                    assert.match(text, new RegExp(`${at("dev-env", d.rebuilt.digest)}no SLSA provenance (and SPDX SBOM )?signed by "${builderName("arm64")}"'s key after waiting 20 s`));
                    assert.deepEqual(await promotedTags(), before, "a prod tag moved");
                } finally {
                    fs.writeFileSync(path.join(work, "saved.json"), saved);
                    ok(project!.pulumi("stack", "import", "--file", path.join(work, "saved.json")), "stack import");
                    fs.rmSync(work, { recursive: true, force: true });
                }
            });
        });
    });
});
