import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as YAML from "yaml";
import {
    baseImages, builderMatches, checkImageProvenance, imageProvenance, ImageBuildInfo, indexMembers, indexProvenance, manifestsOf,
    membersMismatch, PROVENANCE_GENERATOR_ID, provenanceConflicts, signatureFound, SLSA_PROVENANCE_V1, statementsOf,
} from "../../components/supplychain";
import * as pulumi from "@pulumi/pulumi";
import { indexAttestationProvider, keyPairProvider, platformAttestationProvider } from "../../components/supplychain/providers";
import { dockerfileText } from "../../components/supplychain/supplyChain";
import { verificationProvider } from "../../components/supplychain/verifyProvider";
import { isSecret, Recorded } from "../../scripts/harness/mocks";
import { ROOT } from "../../scripts/harness/stackFile";
import { assertMentions, builds, byName, indexes, plain, runStack, SHA, stackConfigError } from "./helpers";

const D = (c: string) => `sha256:${c.repeat(64)}`;
const source = { repository: "https://github.com/example-org/imagefleet", commit: SHA, branch: "main" };

function info(overrides: Partial<ImageBuildInfo> = {}): ImageBuildInfo {
    return {
        image: "runtime", variant: "", platform: "linux/arm64", repository: "registry.localhost:5000/imagefleet/runtime", digest: D("a"),
        source, context: "example", dockerfile: "example/runtime.Dockerfile", target: "app",
        buildArgs: { BASE_IMAGE: "registry.localhost:5000/base/debian:bookworm", NPM_TOKEN: "s3cr3t", GITHUB_TOKEN: "ghp_x", DB_PASSWORD: "pw" },
        dependencies: [
            { name: "artifact", uri: `docker-image://registry.localhost:5000/imagefleet/artifact@${D("b")}`, digest: D("b") },
            { name: "registry.localhost:5000/base/debian:bookworm", uri: "docker-image://registry.localhost:5000/base/debian:bookworm", digest: D("c") },
        ],
        builder: "imagefleet-local-arm64", builderEndpoint: "tcp://127.0.0.1:1235", buildkitVersion: "v0.34.2",
        invokedOn: "ci-runner-7", createdOn: "2026-11-28T09:00:00.000Z",
        ...overrides,
    };
}

/** A DSSE envelope line as `cosign verify-attestation` prints it. */
const envelope = (subject: string, predicateType: string, predicate: unknown) => JSON.stringify({
    payloadType: "application/vnd.in-toto+json",
    payload: Buffer.from(JSON.stringify({ _type: "https://in-toto.io/Statement/v1", subject: [{ name: "x", digest: { sha256: subject.slice(7) } }], predicateType, predicate })).toString("base64"),
    signatures: [{ sig: "MEUC" }],
});

describe("supply chain: SLSA v1 provenance", () => {
    it("names the source repository and commit, the Dockerfile and target, the BuildKit builder and its host, and every dependency's digest", () => {
        const p = imageProvenance(info()) as any;
        const ext = p.buildDefinition.externalParameters;
        assert.deepEqual(ext.source, { repository: source.repository, ref: "refs/heads/main", commit: SHA });
        assert.equal(ext.dockerfile, "example/runtime.Dockerfile");
        assert.equal(ext.target, "app");
        assert.equal(ext.platform, "linux/arm64");
        assert.deepEqual(p.buildDefinition.internalParameters.buildkit,
            { builder: "buildx://imagefleet-local-arm64@127.0.0.1:1235", endpoint: "tcp://127.0.0.1:1235", version: "v0.34.2" });
        const deps = p.buildDefinition.resolvedDependencies;
        assert.deepEqual(deps[0], { uri: "git+https://github.com/example-org/imagefleet@refs/heads/main", digest: { gitCommit: SHA } });
        assert.deepEqual(deps.slice(1).map((d: any) => [d.name, d.digest.sha256]), [["artifact", "b".repeat(64)], ["registry.localhost:5000/base/debian:bookworm", "c".repeat(64)]]);
    });

    it("builder.id names what wrote the statement, imagefleet inside `pulumi up` (SLSA Build L1), not BuildKit; the index's too", () => {
        assert.deepEqual((imageProvenance(info()) as any).runDetails.builder, { id: PROVENANCE_GENERATOR_ID });
        assert.equal(PROVENANCE_GENERATOR_ID, "https://github.com/imagefleet/imagefleet/generators/pulumi-up/v1");
        const index = indexProvenance({ image: "runtime", variant: "", repository: "r", digest: D("f"), source, members: [], builders: {}, invokedOn: "ci-runner-7", createdOn: "t" }) as any;
        assert.deepEqual(index.runDetails.builder, { id: PROVENANCE_GENERATOR_ID });
        assert.equal(index.runDetails.metadata.invocationId, `ci-runner-7/${SHA}`, "the machine that ran `pulumi up` is in the invocation id");
    });

    it("lists the staged context's digest, when the family staged it, as a resolved dependency", () => {
        const p = imageProvenance(info({ contextDigest: D("d") })) as any;
        assert.deepEqual(p.buildDefinition.resolvedDependencies[1], { name: "context", uri: "file:example", digest: { sha256: "d".repeat(64) } });
        assert.equal((imageProvenance(info()) as any).buildDefinition.resolvedDependencies[1].name, "artifact", "no context entry without a digest");
    });

    it("leaves credential-like build args out", () => {
        const p = imageProvenance(info()) as any;
        assert.deepEqual(p.buildDefinition.externalParameters.buildArgs, { BASE_IMAGE: "registry.localhost:5000/base/debian:bookworm" });
        const text = JSON.stringify(p);
        for (const secret of ["s3cr3t", "ghp_x", "\"pw\""]) {
            assert.ok(!text.includes(secret), `${secret} is in the provenance`);
        }
    });

    it("an index's provenance lists its per-platform images, which the verifier reads back", () => {
        const p = indexProvenance({
            image: "runtime", variant: "", repository: "r/runtime", digest: D("f"), source,
            members: [{ platform: "linux/amd64", digest: D("1") }, { platform: "linux/arm64", digest: D("2") }],
            builders: { "linux/amd64": "b-amd64", "linux/arm64": "b-arm64" }, invokedOn: "h", createdOn: "t",
        });
        assert.deepEqual(indexMembers(p), [{ platform: "linux/amd64", digest: D("1") }, { platform: "linux/arm64", digest: D("2") }]);
    });

    it("finds the base images a Dockerfile pulls, not its stages or the family's named contexts", () => {
        const read = (f: string) => fs.readFileSync(path.join(ROOT, "example", f), "utf8");
        const args = { BASE_IMAGE: "registry.localhost:5000/base/debian:bookworm", BUSYBOX_IMAGE: "registry.localhost:5000/base/busybox:1.36" };
        assert.deepEqual(baseImages(read("dev-env.Dockerfile"), args, []), [args.BASE_IMAGE]);
        assert.deepEqual(baseImages(read("artifact.Dockerfile"), args, ["dev-env"]), [args.BUSYBOX_IMAGE]);
        assert.deepEqual(baseImages(read("runtime.Dockerfile"), args, ["artifact"]), [args.BASE_IMAGE]);
        assert.deepEqual(baseImages(read("artifact.Dockerfile"), {}, ["dev-env"]), ["busybox:1.36"], "ARG defaults apply without a build arg");
        assert.deepEqual(baseImages("FROM a AS x\nFROM scratch\nCOPY --from=x /a /b\nRUN --mount=type=bind,from=tools:1,target=/t true\n", {}, []), ["a", "tools:1"]);
    });

    it("checks subject digest, source repository and builder, naming each mismatch", () => {
        const predicate = imageProvenance(info());
        const statement = statementsOf(envelope(D("a"), SLSA_PROVENANCE_V1, predicate))[0];
        const policy = { sourceRepository: source.repository, builders: ["imagefleet-local-amd64", "imagefleet-local-arm64"] };
        assert.deepEqual(checkImageProvenance(statement, D("a"), policy), []);
        assertMentions(checkImageProvenance(statement, D("9"), policy).join("\n"), ["its subject is", D("9")]);
        assertMentions(checkImageProvenance(statement, D("a"), { ...policy, sourceRepository: "https://github.com/evil/fork" }).join("\n"),
            ["source repository is \"https://github.com/example-org/imagefleet\"", "https://github.com/evil/fork"]);
        assertMentions(checkImageProvenance(statement, D("a"), { ...policy, builders: ["imagefleet-staging-arm64"] }).join("\n"),
            ["BuildKit builder is \"buildx://imagefleet-local-arm64@127.0.0.1:1235\"", "imagefleet-staging-arm64"]);
        const otherGenerator = statementsOf(envelope(D("a"), SLSA_PROVENANCE_V1, { ...predicate, runDetails: { builder: { id: "https://example.com/evil-ci" } } }))[0];
        assertMentions(checkImageProvenance(otherGenerator, D("a"), policy).join("\n"), ["builder.id is \"https://example.com/evil-ci\"", PROVENANCE_GENERATOR_ID]);
        assert.ok(builderMatches("buildx://b@10.0.0.1:1234", ["buildx://b@10.0.0.1:1234"]));
        assert.ok(!builderMatches("buildx://b-evil@h", ["b"]), "a name matches only up to the @");
    });
});

describe("supply chain: several provenances of one digest, and what an index holds", () => {
    const statement = (overrides: Partial<ImageBuildInfo>) => statementsOf(envelope(D("a"), SLSA_PROVENANCE_V1, imageProvenance(info(overrides))))[0];

    it("two documents that agree on everything the digest settles are no conflict, whatever commit and time they name (content-addressed builds)", () => {
        assert.deepEqual(provenanceConflicts([statement({}), statement({ source: { ...source, commit: "f".repeat(40) }, createdOn: "2027-01-01T00:00:00Z" })]), []);
        assert.deepEqual(provenanceConflicts([statement({})]), []);
    });

    it("two documents naming another repository, builder or platform conflict, each difference named", () => {
        const conflicts = provenanceConflicts([statement({}), statement({
            source: { ...source, repository: "https://github.com/example-org/imagefleeet" }, builder: "imagefleet-local-amd64", builderEndpoint: "tcp://127.0.0.1:1234", platform: "linux/amd64",
        })]);
        assert.deepEqual(conflicts, [
            'source repository "https://github.com/example-org/imagefleeet" vs "https://github.com/example-org/imagefleet"',
            'platform "linux/amd64" vs "linux/arm64"',
            'BuildKit builder "buildx://imagefleet-local-amd64@127.0.0.1:1234" vs "buildx://imagefleet-local-arm64@127.0.0.1:1235"',
        ]);
        assert.deepEqual(provenanceConflicts([...[statement({}), statement({ platform: "linux/amd64" })]].reverse()), ['platform "linux/amd64" vs "linux/arm64"'], "in either order");
    });

    it("reads an index's platform manifests without BuildKit's attestation manifests; an image manifest has none", () => {
        const index = JSON.stringify({ mediaType: "application/vnd.oci.image.index.v1+json", manifests: [
            { digest: D("1"), platform: { os: "linux", architecture: "amd64" } },
            { digest: D("2"), platform: { os: "linux", architecture: "arm64", variant: "v8" } },
            { digest: D("3"), platform: { os: "unknown", architecture: "unknown" }, annotations: { "vnd.docker.reference.type": "attestation-manifest" } },
        ] });
        assert.deepEqual(manifestsOf(index), [{ platform: "linux/amd64", digest: D("1") }, { platform: "linux/arm64/v8", digest: D("2") }]);
        assert.deepEqual(manifestsOf(JSON.stringify({ config: {}, layers: [] })), []);
        assert.equal(manifestsOf("not json"), undefined);
    });

    it("an index that holds a manifest its provenance does not list (or the reverse) is named, by digest", () => {
        const listed = [{ platform: "linux/amd64", digest: D("1") }, { platform: "linux/arm64", digest: D("2") }];
        assert.deepEqual(membersMismatch([{ platform: "linux/amd64", digest: D("1") }, { platform: "linux/arm64/v8", digest: D("2") }], listed), []);
        assert.deepEqual(membersMismatch([{ platform: "linux/amd64", digest: D("1") }, { platform: "linux/arm64", digest: D("9") }], listed), [
            `the index holds linux/arm64 ${D("9")}, which its provenance does not list`,
            `its provenance lists linux/arm64 ${D("2")}, which the index does not hold`,
        ]);
    });
});

describe("supply chain: resources are keyed on the digest they cover", () => {
    const olds = { repository: "r/runtime", digest: D("a"), keyId: "k1", predicate: { commit: "old" } };

    it("a later commit that republishes the same digest changes nothing, so nothing is signed again", async () => {
        for (const provider of [platformAttestationProvider, indexAttestationProvider]) {
            const news = { repository: "r/runtime", digest: D("a"), keyId: "k1", build: { source: { ...source, commit: "f".repeat(40) } } };
            assert.deepEqual(await provider.diff!("id", olds, news), { changes: false, replaces: [], deleteBeforeReplace: false });
        }
    });

    it("a record from before one resource per digest (its `kind` in the state) is no change either", async () => {
        const before = { ...olds, kind: "provenance" };
        assert.deepEqual(await platformAttestationProvider.diff!("id", before, { ...olds, build: {} }), { changes: false, replaces: [], deleteBeforeReplace: false });
        assert.deepEqual(await indexAttestationProvider.diff!("id", { ...before, kind: "signature" }, olds), { changes: false, replaces: [], deleteBeforeReplace: false });
    });

    it("a new digest or a new key replaces the attestation", async () => {
        assert.deepEqual((await platformAttestationProvider.diff!("id", olds, { ...olds, digest: D("b") })).replaces, ["digest"]);
        assert.deepEqual((await indexAttestationProvider.diff!("id", olds, { ...olds, keyId: "k2" })).replaces, ["keyId"]);
    });
});

describe("supply chain: one create per digest, step by step", () => {
    const TOOLS = ["COSIGN", "SYFT", "DOCKER"] as const;
    const saved = Object.fromEntries(TOOLS.map((t) => [t, process.env[`IMAGEFLEET_${t}`]]));
    let tmp = "";
    const log = () => fs.readFileSync(path.join(tmp, "log"), "utf8").trim().split("\n");
    const signing = { privateKey: "PRIVATE", password: "pw" };
    const repository = "registry.localhost:5000/imagefleet/runtime";
    const sbom = JSON.stringify({ spdxVersion: "SPDX-2.3", packages: [{ name: "busybox" }, { name: "musl" }] });

    /** Stand-ins for cosign, syft and docker that log `<tool> <subcommand> [--type T] <subject>`; cosign fails `FAIL` (e.g. `sign`, `spdxjson`). */
    function fakeTools(fail = ""): void {
        const logLine = `for last; do :; done; echo "$TOOL $1 $(echo "$*" | grep -o -- '--type [a-z0-9]*') $last" >> ${path.join(tmp, "log")}`;
        const scripts: Record<(typeof TOOLS)[number], string> = {
            COSIGN: [
                logLine,
                `case "$*" in *${fail || "no-failure"}*) echo "cosign: refused" >&2; exit 1;; esac`,
                `[ "$1" = verify-attestation ] && echo '${envelope(D("1"), "https://spdx.dev/Document", JSON.parse(sbom))}'`,
                "exit 0",
            ].join("\n"),
            SYFT: [`echo "$TOOL $1 $2" >> ${path.join(tmp, "log")}`, `out=$(echo "$*" | grep -o 'spdx-json=[^ ]*' | cut -d= -f2); printf '%s' '${sbom}' > "$out"`].join("\n"),
            DOCKER: "exit 0",
        };
        for (const t of TOOLS) {
            const file = path.join(tmp, t.toLowerCase());
            fs.writeFileSync(file, `#!/bin/sh\nTOOL=${t.toLowerCase()}\n${scripts[t]}\n`, { mode: 0o755 });
            process.env[`IMAGEFLEET_${t}`] = file;
        }
    }

    beforeEach(() => {
        tmp = fs.mkdtempSync(path.join(fs.realpathSync(os.tmpdir()), "imagefleet-attest-"));
        fs.writeFileSync(path.join(tmp, "log"), "");
    });
    afterEach(() => {
        fs.rmSync(tmp, { recursive: true, force: true });
        for (const t of TOOLS) {
            if (saved[t] === undefined) {
                delete process.env[`IMAGEFLEET_${t}`];
            } else {
                process.env[`IMAGEFLEET_${t}`] = saved[t];
            }
        }
    });

    const platformInputs = {
        repository, digest: D("1"), platform: "linux/arm64", keyId: "k1", signing,
        build: {
            image: "runtime", variant: "", platform: "linux/arm64", repository, source, context: "example", dockerfile: "example/runtime.Dockerfile",
            buildArgs: {}, builder: "imagefleet-local-arm64", dockerfileText: "FROM scratch\n", familyContexts: {},
        },
    };
    const indexInputs = {
        repository, digest: D("f"), keyId: "k1", signing, publicKey: "PUBLIC", image: "runtime", variant: "", source,
        members: { "linux/arm64": { digest: D("1"), builder: "b-arm64" }, "linux/amd64": { digest: D("2"), builder: "b-amd64" } },
    };

    it("a per-platform digest: syft, then the SBOM and the provenance attested, one resource keyed on the digest", async () => {
        fakeTools();
        const r = await platformAttestationProvider.create(platformInputs);
        assert.deepEqual(log(), [
            `syft scan registry:${repository}@${D("1")}`,
            `cosign attest --type spdxjson ${repository}@${D("1")}`,
            `cosign attest --type slsaprovenance1 ${repository}@${D("1")}`,
        ]);
        assert.equal(r.id, `${D("1")}-attestations`);
        assert.equal(r.outs.packageCount, 2);
        assert.match(r.outs.sbomSha256, /^[0-9a-f]{64}$/);
        assert.equal((r.outs.predicate as any).buildDefinition.externalParameters.source.commit, SHA);
        assert.equal(r.outs.kind, undefined);
        assert.ok(!JSON.stringify(r.outs).includes("PRIVATE"), "key material in the outputs");
    });

    it("an index digest: signature, provenance, then each platform's verified SBOM, in that order, one resource keyed on the digest", async () => {
        fakeTools();
        const r = await indexAttestationProvider.create(indexInputs);
        const ref = `${repository}@${D("f")}`;
        assert.deepEqual(log(), [
            `cosign sign  ${ref}`,
            `cosign attest --type slsaprovenance1 ${ref}`,
            `cosign verify-attestation --type spdxjson ${repository}@${D("2")}`,
            `cosign attest --type spdxjson ${ref}`,
            `cosign verify-attestation --type spdxjson ${repository}@${D("1")}`,
            `cosign attest --type spdxjson ${ref}`,
        ]);
        assert.equal(r.id, `${D("f")}-index`);
        assert.deepEqual(r.outs.platforms, ["linux/amd64", "linux/arm64"]);
        assert.deepEqual(indexMembers(r.outs.predicate), [{ platform: "linux/amd64", digest: D("2") }, { platform: "linux/arm64", digest: D("1") }]);
    });

    it("a step that fails names the image ref and the step, and what the next up repeats", async () => {
        fakeTools("slsaprovenance1");
        await assert.rejects(indexAttestationProvider.create(indexInputs), (e: Error) => {
            assertMentions(e.message, [`${repository}@${D("f")}: step "provenance" failed`, "done before it: signature", "the next pulumi up repeats every step",
                `cosign attest --type slsaprovenance1 ${repository}@${D("f")} failed`, "cosign: refused"]);
            return true;
        });
        fakeTools("sign");
        await assert.rejects(indexAttestationProvider.create(indexInputs), /: step "signature" failed: cosign sign .* failed/);
        fakeTools("spdxjson");
        await assert.rejects(platformAttestationProvider.create(platformInputs), (e: Error) => {
            assertMentions(e.message, [`${repository}@${D("1")}: step "sbom" failed`, `cosign attest --type spdxjson ${repository}@${D("1")} failed`]);
            assert.ok(!/done before it/.test(e.message));
            return true;
        });
    });
});

describe("supply chain on the local stack (mocks)", () => {
    let resources: Recorded[] = [];
    before(async () => {
        resources = (await runStack("local")).resources;
    });
    const dynamic = (type: string) => resources.filter((r) => r.type === `pulumi-nodejs:dynamic/supplychain:${type}`);

    const attestation = (type: string, name: string) => {
        const found = dynamic(type).find((r) => r.name === name);
        assert.ok(found, `no ${type} ${name}`);
        return found;
    };

    it("declares one attestation per per-platform digest (SBOM and provenance) and one per index (signature, provenance, SBOMs), under the family", () => {
        const platform = dynamic("PlatformAttestation");
        assert.deepEqual(platform.map((r) => r.name).sort(), ["artifact", "dev-env", "runtime"]
            .flatMap((i) => ["amd64", "arm64"].map((a) => `example-${i}-${a}`)).sort());
        const index = dynamic("IndexAttestation");
        assert.deepEqual(index.map((r) => r.name).sort(), ["example-artifact", "example-dev-env", "example-runtime"]);
        for (const r of [...platform, ...index]) {
            assert.equal(plain(r).kind, undefined, `${r.name}: a kind input`);
        }
        // Per image: 2 platform records + 1 index record (was 2 × 2 + 3).
        assert.equal(platform.length + index.length, 3 * (2 + 1));
        assert.equal(byName(resources, "example-supplychain").parent, "example");
        assert.equal(byName(resources, "example-supplychain").type, "imagefleet:supplychain:SupplyChain");
        for (const r of [...platform, ...index]) {
            assert.equal(r.parent, "example-supplychain", r.name);
        }
        assert.equal(dynamic("CosignKeyPair").length, 1);
    });

    it("each provenance is made from the build's own inputs: commit, Dockerfile, target, build args, contexts pinned by digest, builder", () => {
        const prov = plain(attestation("PlatformAttestation", "example-runtime-arm64"));
        const build = builds(resources).find((r) => r.name === "example-runtime-arm64")!;
        assert.equal(prov.digest, build.state.digest);
        assert.equal(prov.repository, "registry.localhost:5000/imagefleet/runtime");
        assert.deepEqual(prov.build.source, { repository: "https://github.com/example-org/imagefleet", commit: SHA, branch: "main" });
        assert.equal(prov.build.builder, "imagefleet-local-arm64");
        assert.equal(prov.build.dockerfile, path.join("example", "runtime.Dockerfile"), "the source Dockerfile, not a staged copy");
        assert.equal(prov.build.context, "example");
        assert.match(prov.build.dockerfileText, /COPY --from=artifact/);
        assert.equal(prov.build.buildArgs.BASE_IMAGE, "registry.localhost:5000/base/debian:bookworm");
        const artifact = byName(resources, "example-artifact-arm64");
        assert.deepEqual(prov.build.familyContexts, { artifact: `docker-image://registry.localhost:5000/imagefleet/artifact@${artifact.state.digest}` });
        const index = plain(attestation("IndexAttestation", "example-runtime"));
        assert.equal(index.digest, indexes(resources).find((r) => r.name === "example-runtime")!.state.ref.split("@")[1]);
        assert.deepEqual(Object.keys(index.members).sort(), ["linux/amd64", "linux/arm64"]);
        assert.match(index.publicKey, /PUBLIC|BEGIN/, "the index reads the platforms' SBOMs back with the public key");
    });

    it("the index record waits for its platforms' records (it reads their SBOMs back)", () => {
        const index = attestation("IndexAttestation", "example-runtime");
        assert.deepEqual([...(index.options.dependsOn ?? [])].sort(), ["example-runtime-amd64", "example-runtime-arm64"]);
    });

    it("reads the Dockerfile from its location when the provider reports an empty inline text (docker-build 0.0.22 does)", () => {
        const text = dockerfileText({ inline: "", location: path.join("example", "dev-env.Dockerfile") }, ROOT);
        assert.match(text, /FROM \$\{BASE_IMAGE\}/);
        assert.equal(dockerfileText({ inline: "FROM x\n", location: "" }, ROOT), "FROM x\n");
    });

    it("passes key material only as secret inputs", () => {
        for (const r of [...dynamic("PlatformAttestation"), ...dynamic("IndexAttestation")]) {
            assert.ok(isSecret(r.inputs.signing), `${r.name}: signing is not a secret`);
            assert.match(plain(r).signing.privateKey, /MOCK-PRIVATE/);
            assert.ok(!String(r.inputs.__provider).includes("MOCK-"), `${r.name}: key material in the serialized provider`);
        }
    });
});

describe("supply chain with attesting builders (mocks)", () => {
    const PEM = "-----BEGIN PUBLIC KEY-----\nMOCK-HOST-KEY\n-----END PUBLIC KEY-----\n";
    const withAttestors = (attestors: Record<string, string>) => [`imagefleet:supplychain=${JSON.stringify({
        sourceRepository: "https://github.com/example-org/imagefleet", signing: "generate", attestors })}`];
    const dynamic = (rs: Recorded[], type: string) => rs.filter((r) => r.type === `pulumi-nodejs:dynamic/supplychain:${type}`).map((r) => r.name).sort();

    it("a build on an attesting builder gets no deployer-side record, and an image built only on them no index record; the output names the host's key and what its provenance must state", async () => {
        const { resources, outputs } = await runStack("local", withAttestors({ "imagefleet-local-amd64": PEM, "imagefleet-local-arm64": PEM }));
        assert.deepEqual(dynamic(resources, "PlatformAttestation"), []);
        assert.deepEqual(dynamic(resources, "IndexAttestation"), []);
        type Chain = { attestedBy: Record<string, Record<string, Record<string, unknown>>> };
        const chain = await new Promise<Chain>((resolve) => (outputs.supplychain as pulumi.Output<Chain>).apply(resolve));
        assert.deepEqual(Object.keys(chain.attestedBy).sort(), ["artifact", "dev-env", "runtime"]);
        const runtime = chain.attestedBy.runtime["linux/arm64"];
        const build = builds(resources).find((r) => r.name === "example-runtime-arm64")!;
        assert.equal(runtime.builder, "imagefleet-local-arm64");
        assert.equal(runtime.key, PEM);
        assert.equal(runtime.digest, build.state.digest);
        assert.equal(runtime.dockerfileSha256, crypto.createHash("sha256")
            .update(fs.readFileSync(path.join(ROOT, "example", "runtime.Dockerfile"))).digest("hex"));
        assert.equal((runtime.buildArgs as Record<string, string>).BASE_IMAGE, "registry.localhost:5000/base/debian:bookworm");
    });

    it("a platform whose builder does not attest keeps the deployer's records; its index carries only that platform's SBOM", async () => {
        const { resources } = await runStack("local", withAttestors({ "imagefleet-local-amd64": PEM }));
        assert.deepEqual(dynamic(resources, "PlatformAttestation"), ["example-artifact-arm64", "example-dev-env-arm64", "example-runtime-arm64"]);
        assert.deepEqual(dynamic(resources, "IndexAttestation"), ["example-artifact", "example-dev-env", "example-runtime"]);
        const index = plain(resources.find((r) => r.type === "pulumi-nodejs:dynamic/supplychain:IndexAttestation" && r.name === "example-runtime")!);
        assert.equal(index.members["linux/amd64"].attested, true);
        assert.equal(index.members["linux/arm64"].attested, undefined);
    });

    it("on a stack whose fleet has an attestor, the fleet's hosts attest the family's builds with the fleet's KMS key, with no attestors setting", async () => {
        const dev = YAML.parse(fs.readFileSync(path.join(ROOT, "stacks", "Pulumi.dev.yaml"), "utf8")).config;
        const fleet = { ...dev["imagefleet:fleet"], attestor: { releaseUrl: "https://mirror.example.com/imagefleet-attestor-linux-{arch}.tar.gz" } };
        const { resources, outputs } = await runStack("dev", [`imagefleet:fleet=${JSON.stringify(fleet)}`,
            `imagefleet:supplychain=${JSON.stringify({ sourceRepository: "https://github.com/example-org/imagefleet", signing: "generate" })}`]);
        assert.deepEqual(dynamic(resources, "PlatformAttestation"), []);
        const key = resources.find((r) => r.type === "aws:kms/key:Key" && r.name === "imagefleet-dev-attestor-key")!;
        assert.ok(key, "the fleet made its attestor key");
        type Chain = { attestedBy: Record<string, Record<string, { builder: string; key: string }>> };
        const chain = await new Promise<Chain>((resolve) => (outputs.supplychain as pulumi.Output<Chain>).apply(resolve));
        assert.deepEqual(chain.attestedBy.runtime["linux/arm64"], { ...chain.attestedBy.runtime["linux/arm64"], builder: "imagefleet-dev-arm64", key: `awskms:///${key.state.arn}` });
    });

    it("refuses an attestor key that is none of a KMS ref, a PEM or a .pub path, a path that does not exist, and attestors on a stack that does not sign", async () => {
        const bad = await stackConfigError("local", withAttestors({ "imagefleet-local-amd64": "my-key" }));
        assertMentions(bad.message, ["stack \"local\"", "imagefleet:supplychain.attestors.imagefleet-local-amd64", "\"my-key\" is not", "awskms:///"]);
        const missing = await stackConfigError("local", withAttestors({ "imagefleet-local-arm64": "/nonexistent/host.pub" }));
        assertMentions(missing.message, ["imagefleet:supplychain.attestors.imagefleet-local-arm64: /nonexistent/host.pub does not exist"]);
        const unsigned = await stackConfigError("local", [`imagefleet:supplychain=${JSON.stringify({ sourceRepository: "https://github.com/o/r", attestors: { b: PEM } })}`]);
        assertMentions(unsigned.message, ["imagefleet:supplychain.attestors: only on a building stack that signs"]);
    });
});

describe("npm run synth -- --stack local --json (supply chain)", () => {
    it("declares the signing and attestation resources and prints no key material", () => {
        const r = spawnSync(process.execPath, ["-r", "ts-node/register/transpile-only", "scripts/synth.ts", "--stack", "local", "--json"], { cwd: ROOT, encoding: "utf8" });
        assert.equal(r.status, 0, r.stderr);
        const rs = JSON.parse(r.stdout) as { type: string; name: string }[];
        const types = new Set(rs.map((x) => x.type));
        for (const t of ["imagefleet:supplychain:SigningKey", "imagefleet:supplychain:SupplyChain", "pulumi-nodejs:dynamic/supplychain:CosignKeyPair",
            "pulumi-nodejs:dynamic/supplychain:PlatformAttestation", "pulumi-nodejs:dynamic/supplychain:IndexAttestation"]) {
            assert.ok(types.has(t), `${t} is not declared`);
        }
        for (const leak of ["MOCK-PRIVATE", "MOCK-PASSWORD", "PRIVATE KEY"]) {
            assert.ok(!r.stdout.includes(leak), `synth --json prints ${leak}`);
        }
        assert.match(r.stdout, /"signing": "\[secret\]"/);
    });
});

describe("supply chain stack config", () => {
    it("rejects KMS signing on the local stack and verification on a building stack, naming the key and the stack", async () => {
        const verify = { key: "awskms:///alias/imagefleet-staging-cosign", builders: ["b"] };
        const err = await stackConfigError("local", [`imagefleet:supplychain=${JSON.stringify({ sourceRepository: "https://github.com/o/r", signing: "kms", verify })}`]);
        assertMentions(err.message, ["stack \"local\"", "imagefleet:supplychain.signing: the local stack has no cloud account",
            "imagefleet:supplychain.verify: only a promoting stack"]);
        assert.deepEqual(err.resources, [], "nothing is declared before the config is checked");
    });

    it("rejects a repository that is not a URL, a bad key, no builders and an unknown field", async () => {
        const err = await stackConfigError("local", ["imagefleet:supplychain={\"sourceRepository\":\"example-org/imagefleet\",\"sign\":true,\"verify\":{\"key\":\"x\",\"builders\":[]}}"]);
        assertMentions(err.message, ["imagefleet:supplychain.sourceRepository: \"example-org/imagefleet\" is not a repository URL",
            "imagefleet:supplychain.sign: unknown key", "imagefleet:supplychain.verify.key: \"x\" is not", "imagefleet:supplychain.verify.builders"]);
    });
});

describe("supply chain: what counts as a signature", () => {
    const entry = (type: string, digest: string) => ({ critical: { identity: { "docker-reference": "r/x" }, image: { "docker-manifest-digest": digest }, type }, optional: {} });

    it("only a cosign/sign/v1 entry for the digest, not an attestation that `cosign verify` also accepts (seen with cosign v3.1.3)", () => {
        const attestationsOnly = JSON.stringify([entry("https://spdx.dev/Document", D("a")), entry("https://slsa.dev/provenance/v1", D("a"))]);
        assert.equal(signatureFound(attestationsOnly, D("a")), false);
        assert.equal(signatureFound(JSON.stringify([entry("https://sigstore.dev/cosign/sign/v1", D("b"))]), D("a")), false, "a signature of another digest");
        assert.equal(signatureFound(`\n${JSON.stringify([entry("https://sigstore.dev/cosign/sign/v1", D("a"))])}\n`, D("a")), true);
    });
});

describe("supply chain: the dynamic providers as Pulumi serializes them", () => {
    const providers = { keyPairProvider, platformAttestationProvider, indexAttestationProvider, verificationProvider };

    it("capture functions and values, never a module (inside node_modules that becomes a require the package's exports refuse)", async () => {
        for (const [name, provider] of Object.entries(providers)) {
            const { text } = await pulumi.runtime.serializeFunction(() => provider, { allowSecrets: false });
            // A captured module object is emitted as `var __<module>_1 = {…}` (by value here, by `require` from node_modules).
            assert.deepEqual(text.match(/var __\w+_\d+ = /g) ?? [], [], `${name} captures a module`);
            const required = [...new Set(text.match(/require\("[^"]+"\)/g) ?? [])];
            assert.deepEqual(required.filter((r) => !/^require\("(child_process|fs|os|path|crypto)"\)$/.test(r)), [], `${name} requires ${required.join(", ")}`);
        }
    });
});
