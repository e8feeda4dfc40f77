import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { imageProvenance, ImageBuildInfo, indexProvenance, SLSA_PROVENANCE_V1, SPDX_PREDICATE } from "../../components/supplychain";
import { verifyImage } from "../../components/supplychain/verifyProvider";
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
        const fake = path.join(dir, "fake");
        // The last argument is the ref; the subcommand and --type pick the answer.
        fs.writeFileSync(fake, [
            "#!/bin/sh",
            'for a in "$@"; do ref=$a; done',
            'd=${ref##*@sha256:}',
            'case "$*" in',
            '  *verify-attestation*slsaprovenance1*) f=$FAKE_RECORDS/$d.slsa ;;',
            '  *verify-attestation*spdxjson*) f=$FAKE_RECORDS/$d.spdx ;;',
            '  *"imagetools inspect"*) f=$FAKE_RECORDS/$d.raw ;;',
            '  verify*) f=$FAKE_RECORDS/$d.sig ;;',
            "esac",
            '[ -f "$f" ] && exec cat "$f"',
            'echo "Error: no matching attestations" >&2; exit 1',
        ].join("\n"), { mode: 0o755 });
        Object.assign(process.env, { IMAGEFLEET_COSIGN: fake, IMAGEFLEET_DOCKER: fake, FAKE_RECORDS: dir });
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
