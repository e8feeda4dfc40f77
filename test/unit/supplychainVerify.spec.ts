import { strict as assert } from "assert";
import { createHash } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { imageProvenance, ImageBuildInfo, indexProvenance, SLSA_PROVENANCE_V1, SPDX_PREDICATE } from "../../components/supplychain";
import { VerificationInputs, verificationProvider, verifyImage } from "../../components/supplychain/verifyProvider";
import { Struct } from "google-protobuf/google/protobuf/struct_pb";
import { SHA } from "./helpers";

// verifyImage's decisions on what cosign and the registry answer, with
// stand-ins for cosign and docker that print canned answers per digest (the
// e2e tier's tamper matrix runs the same decisions on real records).

const D = (c: string) => `sha256:${c.repeat(64)}`;
const REPO = "registry.localhost:5000/imagefleet/runtime";
const source = { repository: "https://github.com/example-org/imagefleet", commit: SHA, branch: "main" };
const policy = { sourceRepository: source.repository, builders: ["imagefleet-local-amd64", "imagefleet-local-arm64"] };
const INDEX = D("f");
const MEMBERS = { "linux/amd64": D("1"), "linux/arm64": D("2") };

const envelope = (subject: string, predicateType: string, predicate: unknown) => JSON.stringify({
    payloadType: "application/vnd.in-toto+json",
    payload: Buffer.from(JSON.stringify({ subject: [{ digest: { sha256: subject.slice(7) } }], predicateType, predicate })).toString("base64"),
});

function platformPredicate(platform: string, overrides: Partial<ImageBuildInfo> = {}) {
    const arch = platform.split("/")[1];
    return imageProvenance({
        image: "runtime", variant: "", platform, repository: REPO, digest: MEMBERS[platform as keyof typeof MEMBERS], source, context: "example",
        dockerfile: "example/runtime.Dockerfile", buildArgs: {}, dependencies: [], builder: `imagefleet-local-${arch}`,
        builderEndpoint: `tcp://127.0.0.1:${arch === "amd64" ? 1234 : 1235}`, invokedOn: "ci", createdOn: "t", ...overrides,
    });
}

const indexPredicate = (members: Record<string, string>) => indexProvenance({
    image: "runtime", variant: "", repository: REPO, digest: INDEX, source,
    members: Object.entries(members).map(([platform, digest]) => ({ platform, digest })), builders: {}, invokedOn: "ci", createdOn: "t",
});

/**
 * cosign and `docker buildx imagetools` in one script, answering from canned
 * files in `dir`: `<hex>.<sig|slsa|spdx|raw>.<key>` for what verifies with the
 * key whose file holds <key>, else `<hex>.<kind>` for any key; a missing file
 * is cosign's "nothing found". The last argument is the ref; the subcommand
 * and --type pick the kind.
 */
function fakeCosign(dir: string): void {
    const fake = path.join(dir, "fake");
    fs.writeFileSync(fake, [
        "#!/bin/sh",
        'key=none; prev=""',
        'for a in "$@"; do [ "$prev" = "--key" ] && key=$(cat "$a" 2>/dev/null || echo none); prev=$a; ref=$a; done',
        'd=${ref##*@sha256:}',
        'case "$*" in',
        '  *verify-attestation*slsaprovenance1*) k=slsa ;;',
        '  *verify-attestation*spdxjson*) k=spdx ;;',
        '  *"imagetools inspect"*) k=raw ;;',
        '  verify*) k=sig ;;',
        "esac",
        'for f in "$FAKE_RECORDS/$d.$k.$key" "$FAKE_RECORDS/$d.$k"; do [ -f "$f" ] && exec cat "$f"; done',
        'echo "Error: no matching attestations" >&2; exit 1',
    ].join("\n"), { mode: 0o755 });
    Object.assign(process.env, { IMAGEFLEET_COSIGN: fake, IMAGEFLEET_DOCKER: fake, FAKE_RECORDS: dir });
}

const rawIndex = (members: Record<string, string>) => JSON.stringify({
    mediaType: "application/vnd.oci.image.index.v1+json",
    manifests: Object.entries(members).map(([p, digest]) => ({ digest, platform: { os: "linux", architecture: p.split("/")[1] } })),
});

describe("verifyImage: every provenance of a digest, and what the index holds", () => {
    let dir = "";
    const saved = { cosign: process.env.IMAGEFLEET_COSIGN, docker: process.env.IMAGEFLEET_DOCKER, dir: process.env.FAKE_RECORDS };
    /** Canned answers: `<hex>.<sig|slsa|spdx|raw>`, one line per record; a missing file is cosign's "nothing found". */
    const answer = (digest: string, kind: "sig" | "slsa" | "spdx" | "raw", lines: readonly string[]) =>
        fs.writeFileSync(path.join(dir, `${digest.slice(7)}.${kind}`), lines.join("\n") + "\n");

    beforeEach(() => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "imagefleet-verify-"));
        fakeCosign(dir);
        // The genuine records: a signature, the index's provenance and SBOM, each platform's provenance.
        answer(INDEX, "sig", [JSON.stringify([{ critical: { type: "https://sigstore.dev/cosign/sign/v1", image: { "docker-manifest-digest": INDEX } } }])]);
        answer(INDEX, "slsa", [envelope(INDEX, SLSA_PROVENANCE_V1, indexPredicate(MEMBERS))]);
        answer(INDEX, "spdx", [envelope(INDEX, SPDX_PREDICATE, { packages: [] })]);
        answer(INDEX, "raw", [rawIndex(MEMBERS)]);
        for (const [platform, digest] of Object.entries(MEMBERS)) {
            answer(digest, "slsa", [envelope(digest, SLSA_PROVENANCE_V1, platformPredicate(platform))]);
        }
    });
    afterEach(() => {
        fs.rmSync(dir, { recursive: true, force: true });
        for (const [k, v] of [["IMAGEFLEET_COSIGN", saved.cosign], ["IMAGEFLEET_DOCKER", saved.docker], ["FAKE_RECORDS", saved.dir]] as const) {
            if (v === undefined) {
                delete process.env[k];
            } else {
                process.env[k] = v;
            }
        }
    });
    const verify = () => verifyImage(`${REPO}:0123456789ab@${INDEX}`, { refs: {}, verifying: { publicKey: "PEM" }, policy, sourceName: "stack \"local\"" });

    it("passes the genuine records: signature, provenance (index and both platforms), SBOM", async () => {
        assert.deepEqual(await verify(), { passed: ["signature", "provenance", "sbom"] });
    });

    it("two provenances of one platform that each pass the policy but name different builders are refused as a conflict", async () => {
        answer(MEMBERS["linux/arm64"], "slsa", [
            envelope(MEMBERS["linux/arm64"], SLSA_PROVENANCE_V1, platformPredicate("linux/arm64")),
            envelope(MEMBERS["linux/arm64"], SLSA_PROVENANCE_V1, platformPredicate("linux/arm64", { builder: "imagefleet-local-amd64", builderEndpoint: "tcp://127.0.0.1:1234" })),
        ]);
        const r = await verify();
        assert.deepEqual(r.passed, ["signature"]);
        assert.equal(r.failure, `provenance of linux/arm64 (${REPO}@${MEMBERS["linux/arm64"]}): 2 SLSA provenance documents signed by the expected key disagree: `
            + 'BuildKit builder "buildx://imagefleet-local-amd64@127.0.0.1:1234" vs "buildx://imagefleet-local-arm64@127.0.0.1:1235"');
    });

    it("a second provenance from a later commit of the same bytes is no conflict", async () => {
        answer(INDEX, "slsa", [
            envelope(INDEX, SLSA_PROVENANCE_V1, indexPredicate(MEMBERS)),
            envelope(INDEX, SLSA_PROVENANCE_V1, indexProvenance({ image: "runtime", variant: "", repository: REPO, digest: INDEX, source: { ...source, commit: "e".repeat(40) },
                members: Object.entries(MEMBERS).map(([platform, digest]) => ({ platform, digest })), builders: {}, invokedOn: "ci-2", createdOn: "later" })),
        ]);
        assert.deepEqual((await verify()).passed, ["signature", "provenance", "sbom"]);
    });

    it("a provenance about another digest only is named as copied from it", async () => {
        answer(INDEX, "slsa", [envelope(D("9"), SLSA_PROVENANCE_V1, indexPredicate(MEMBERS))]);
        assert.equal((await verify()).failure,
            `provenance: the only SLSA provenance signed by the expected key is about ${D("9")}, not ${INDEX} (an attestation copied from another digest)`);
    });

    it("every document counts, not the first: a genuine one beside a bad one fails the image in either order", async () => {
        const amd64 = MEMBERS["linux/amd64"];
        const good = envelope(amd64, SLSA_PROVENANCE_V1, platformPredicate("linux/amd64"));
        const bad = envelope(amd64, SLSA_PROVENANCE_V1, platformPredicate("linux/amd64", { source: { ...source, repository: "https://github.com/example-org/imagefleeet" } }));
        for (const lines of [[good, bad], [bad, good]]) {
            answer(amd64, "slsa", lines);
            assert.match((await verify()).failure!, /^provenance of linux\/amd64 .*: 2 SLSA provenance documents signed by the expected key disagree: source repository/);
        }
    });

    it("an index holding a manifest its provenance does not list is refused before the platforms are checked", async () => {
        answer(INDEX, "raw", [rawIndex({ ...MEMBERS, "linux/arm64": D("3") })]);
        assert.equal((await verify()).failure, `provenance: the index holds linux/arm64 ${D("3")}, which its provenance does not list; `
            + `its provenance lists linux/arm64 ${MEMBERS["linux/arm64"]}, which the index does not hold`);
    });

    it("no SBOM fails the sbom check, after signature and provenance passed", async () => {
        fs.rmSync(path.join(dir, `${INDEX.slice(7)}.spdx`));
        const r = await verify();
        assert.deepEqual(r.passed, ["signature", "provenance"]);
        assert.match(r.failure!, /^sbom: no SPDX SBOM signed by the expected key for .*: Error: no matching attestations$/);
    });
});

describe("verifyImage: platforms their builders' hosts attest", () => {
    let dir = "";
    const saved = { cosign: process.env.IMAGEFLEET_COSIGN, docker: process.env.IMAGEFLEET_DOCKER, dir: process.env.FAKE_RECORDS };
    const DOCKERFILE = "FROM debian\nRUN true\n";
    const dockerfileSha = createHash("sha256").update(DOCKERFILE).digest("hex");
    const HOST_KEY = { "imagefleet-local-amd64": "HOSTAMD64", "imagefleet-local-arm64": "HOSTARM64" } as Record<string, string>;
    /** Canned answers per digest, kind and the key cosign is given (its file's text): `<hex>.<kind>.<key>`. */
    const answer = (digest: string, kind: "sig" | "slsa" | "spdx" | "raw", key: string, lines: readonly string[]) =>
        fs.writeFileSync(path.join(dir, `${digest.slice(7)}.${kind}.${key}`), lines.join("\n") + "\n");
    /** BuildKit's predicate as a host's attestor signs it. */
    const hostPredicate = (builder: string, edit: (p: any) => void = () => {}) => {
        const p: any = {
            buildDefinition: { buildType: "https://github.com/moby/buildkit/blob/master/docs/attestations/slsa-definitions.md",
                externalParameters: { request: { frontend: "dockerfile.v0", args: { "build-arg:SOURCE_DATE_EPOCH": "0", "build-arg:APP_VERSION": "0.1.0" } } } },
            runDetails: { builder: { id: `https://imagefleet.dev/attestor/v1/host/${builder}` },
                metadata: { buildkit_metadata: { source: { infos: [{ data: Buffer.from(DOCKERFILE).toString("base64") }] } } } },
        };
        edit(p);
        return p;
    };
    const expected = (platform: keyof typeof MEMBERS) => ({
        builder: `imagefleet-local-${platform.split("/")[1]}`, digest: MEMBERS[platform], dockerfileSha256: dockerfileSha,
        buildArgs: { SOURCE_DATE_EPOCH: "0", APP_VERSION: "0.1.0" }, target: "",
    });
    const attested = { runtime: { "linux/amd64": expected("linux/amd64"), "linux/arm64": expected("linux/arm64") } };
    const builderKeys = { "imagefleet-local-amd64": { publicKey: "HOSTAMD64" }, "imagefleet-local-arm64": { publicKey: "HOSTARM64" } };
    const hostRecords = (platform: keyof typeof MEMBERS, edit?: (p: any) => void, subject = MEMBERS[platform]) => {
        const builder = `imagefleet-local-${platform.split("/")[1]}`;
        answer(MEMBERS[platform], "slsa", HOST_KEY[builder], [envelope(subject, SLSA_PROVENANCE_V1, hostPredicate(builder, edit))]);
        answer(MEMBERS[platform], "spdx", HOST_KEY[builder], [envelope(MEMBERS[platform], SPDX_PREDICATE, { packages: [] })]);
    };

    beforeEach(() => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "imagefleet-verify-hosts-"));
        fakeCosign(dir);
        // The index is nobody's to sign: both platforms are attested on their hosts.
        answer(INDEX, "raw", "none", [rawIndex(MEMBERS)]);
        hostRecords("linux/amd64");
        hostRecords("linux/arm64");
    });
    afterEach(() => {
        fs.rmSync(dir, { recursive: true, force: true });
        for (const [k, v] of [["IMAGEFLEET_COSIGN", saved.cosign], ["IMAGEFLEET_DOCKER", saved.docker], ["FAKE_RECORDS", saved.dir]] as const) {
            if (v === undefined) {
                delete process.env[k];
            } else {
                process.env[k] = v;
            }
        }
    });
    const verify = (extra: Record<string, unknown> = {}) => verifyImage(`${REPO}:0123456789ab@${INDEX}`,
        { refs: {}, verifying: { publicKey: "PEM" }, policy, sourceName: "stack \"local\"", attested, builderKeys, waitSeconds: 0, ...extra }, "runtime");
    const at = (platform: keyof typeof MEMBERS) => `provenance of ${platform} (${REPO}@${MEMBERS[platform]})`;

    it("passes the hosts' records: the index holds what the stack recorded, each manifest has its host's provenance and SBOM matching the build", async () => {
        assert.deepEqual(await verify(), { passed: ["index", "builder provenance", "builder sbom"] });
    });

    it("a provenance signed by the deployer's key where the host's is required is refused, naming the builder and the wait", async () => {
        fs.rmSync(path.join(dir, `${MEMBERS["linux/arm64"].slice(7)}.slsa.HOSTARM64`));
        answer(MEMBERS["linux/arm64"], "slsa", "PEM", [envelope(MEMBERS["linux/arm64"], SLSA_PROVENANCE_V1, hostPredicate("imagefleet-local-arm64"))]);
        const r = await verify();
        assert.deepEqual(r.passed, ["index"]);
        assert.match(r.failure!, new RegExp(`^${escape(at("linux/arm64"))}: no SLSA provenance signed by "imagefleet-local-arm64"'s key after waiting 0 s; its host's attestor signs each build after the push`));
    });

    it("a host key of another fleet (the builder this stack does not trust) is refused, naming the trusted ones", async () => {
        const r = await verify({ builderKeys: { "imagefleet-local-amd64": builderKeys["imagefleet-local-amd64"] } });
        assert.equal(r.failure, `${at("linux/arm64")}: built on "imagefleet-local-arm64", which is not a builder this stack trusts to attest (imagefleet:supplychain.verify.builderKeys: "imagefleet-local-amd64")`);
    });

    it("a provenance of another build, copied over: signed by the host, about another digest", async () => {
        hostRecords("linux/amd64", undefined, D("8"));
        assert.match((await verify()).failure!, new RegExp(`^${escape(at("linux/amd64"))}: no SLSA provenance signed by .* after waiting 0 s; the only provenance that key signed there is about ${D("8")} \\(an attestation copied from another build\\)`));
    });

    it("a host provenance of the right digest that records another Dockerfile, build arg, target or attestor is refused, naming each", async () => {
        hostRecords("linux/amd64", (p) => {
            p.runDetails.metadata.buildkit_metadata.source.infos[0].data = Buffer.from("FROM evil\n").toString("base64");
            p.buildDefinition.externalParameters.request.args["build-arg:APP_VERSION"] = "6.6.6";
            p.buildDefinition.externalParameters.request.args.target = "debug";
            p.runDetails.builder.id = "https://imagefleet.dev/attestor/v1/host/imagefleet-other-amd64";
        });
        const failure = (await verify()).failure!;
        assert.ok(failure.startsWith(`${at("linux/amd64")}: signed by imagefleet-local-amd64's key, but builder.id is "https://imagefleet.dev/attestor/v1/host/imagefleet-other-amd64"`), failure);
        for (const part of [`the Dockerfile it records has sha256 ${createHash("sha256").update("FROM evil\n").digest("hex")}, but the building stack built one with ${dockerfileSha}`,
            'build arg APP_VERSION is "6.6.6", but the building stack passed "0.1.0"', 'target is "debug", but the building stack built ""']) {
            assert.ok(failure.includes(part), `${part}\nnot in\n${failure}`);
        }
    });

    it("an index holding another manifest than the stack recorded is refused before any host record is read", async () => {
        answer(INDEX, "raw", "none", [rawIndex({ ...MEMBERS, "linux/arm64": D("3") })]);
        assert.equal((await verify()).failure, `index: its linux/arm64 manifest is ${D("3")}, but the building stack recorded ${MEMBERS["linux/arm64"]} (built on imagefleet-local-arm64)`);
    });

    it("waits for a host that attests late, within the bound", async () => {
        const late = path.join(dir, `${MEMBERS["linux/arm64"].slice(7)}.slsa.HOSTARM64`);
        const text = fs.readFileSync(late);
        fs.rmSync(late);
        setTimeout(() => fs.writeFileSync(late, text), 1500);
        const started = Date.now();
        assert.deepEqual((await verify({ waitSeconds: 30 })).passed, ["index", "builder provenance", "builder sbom"]);
        assert.ok(Date.now() - started >= 1500, "passed before the host attested");
    });

    it("a deployer-signed index with one platform attested on its host: the deployer's records for one, the host's for the other", async () => {
        answer(INDEX, "sig", "PEM", [JSON.stringify([{ critical: { type: "https://sigstore.dev/cosign/sign/v1", image: { "docker-manifest-digest": INDEX } } }])]);
        answer(INDEX, "slsa", "PEM", [envelope(INDEX, SLSA_PROVENANCE_V1, indexPredicate(MEMBERS))]);
        answer(INDEX, "spdx", "PEM", [envelope(INDEX, SPDX_PREDICATE, { packages: [] })]);
        answer(MEMBERS["linux/amd64"], "slsa", "PEM", [envelope(MEMBERS["linux/amd64"], SLSA_PROVENANCE_V1, platformPredicate("linux/amd64"))]);
        const mixed = { runtime: { "linux/arm64": expected("linux/arm64") } };
        assert.deepEqual(await verify({ attested: mixed }), { passed: ["signature", "provenance", "sbom"] });
        fs.rmSync(path.join(dir, `${MEMBERS["linux/arm64"].slice(7)}.slsa.HOSTARM64`));
        assert.match((await verify({ attested: mixed })).failure!, new RegExp(`^${escape(at("linux/arm64"))}: no SLSA provenance signed by "imagefleet-local-arm64"'s key`));
    });
});

function escape(text: string): string {
    return text.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
}

describe("SourceVerification's diff", () => {
    const keys = { "imagefleet-local-amd64": { publicKey: "-----BEGIN PUBLIC KEY-----\nHOST\n-----END PUBLIC KEY-----\n" } };
    const inputs = (over: Partial<VerificationInputs> = {}): VerificationInputs => ({
        refs: {}, verifying: { publicKey: "PEM" }, policy, sourceName: "stack \"staging\"", attested: {}, builderKeys: keys, ...over,
    });

    it("the same inputs again are no change: the state keeps every input the diff reads", async () => {
        const { outs } = await verificationProvider.create!(inputs());
        assert.deepEqual(await verificationProvider.diff!("verified", outs, inputs()), { changes: false });
        // The engine's Struct refuses undefined values ("Unexpected struct type"): none in the state.
        const unset = await verificationProvider.create!(inputs({ attested: undefined, builderKeys: undefined }));
        for (const state of [outs, unset.outs]) {
            assert.doesNotThrow(() => Struct.fromJavaScript(state), "the engine could not store this state");
        }
        assert.deepEqual(await verificationProvider.diff!("verified", unset.outs, inputs({ attested: undefined, builderKeys: undefined })), { changes: false });
        assert.deepEqual(await verificationProvider.diff!("verified", outs, inputs({ builderKeys: {} })), { changes: true });
        assert.deepEqual(await verificationProvider.diff!("verified", outs, inputs({ attested: { runtime: {} } })), { changes: true });
    });

    it("a state from before attested and builderKeys existed is no change for a stack that sets neither", async () => {
        const before = { refs: {}, verifying: { publicKey: "PEM" }, policy, report: {} };
        assert.deepEqual(await verificationProvider.diff!("verified", before, inputs({ builderKeys: undefined })), { changes: false });
        assert.deepEqual(await verificationProvider.diff!("verified", before, inputs()), { changes: true });
    });
});
