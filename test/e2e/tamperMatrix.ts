// The tamper matrix: what the verifiers people trust test (cosign's and
// slsa-verifier's regression suites, sigstore's policy-controller, Kyverno),
// each case handed to the promoting stack through the building stack's
// outputs, as someone with write access to them and push rights to the
// source registry could. Some cases also hold the building stack's key (an
// insider, or a CI job that signs whatever it is given): the signature is
// then genuine and only the records' content can give the forgery away.
// Each case must be refused by `pulumi up` before any prod tag moves, with a
// message naming the image and the failed check.
import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { CosignKey, Forger, generateKey, SIGNATURE, SLSA } from "./forge";
import { IMAGES, ok, outputOf, SupplyChainStacks } from "./supplychainStacks";
import { sh } from "./support";

const IMAGE = "runtime";
const OFF_BY_ONE = "https://github.com/example-org/imagefleeet";

interface Case {
    readonly name: string;
    /** The failed check as the error states it, after `image "<image>" (<ref>): `. */
    readonly check: RegExp;
    /** Only where the registry keeps referrers this way. Default: both. */
    readonly storage?: "fallback tag" | "referrers API";
    /** Makes the forgery; the ref the source stack's outputs will name. */
    readonly make: (t: Tools) => Promise<string>;
}

interface Tools {
    readonly stacks: SupplyChainStacks;
    readonly forger: Forger;
    /** The building stack's own key. */
    readonly key: CosignKey;
    /** A key of the attacker's. */
    readonly attacker: CosignKey;
    /** `host/repo:<the genuine tag>@<digest>`: the shape of every source ref. */
    readonly ref: (digest: string) => string;
}

/** A per-platform provenance edit: the BuildKit builder it names. */
const builtOn = (name: string, endpoint: string) => (p: any) => {
    p.buildDefinition.internalParameters.buildkit.builder = `buildx://${name}@${endpoint.replace(/^tcp:\/\//, "")}`;
    p.buildDefinition.internalParameters.buildkit.endpoint = endpoint;
};

export const CASES: readonly Case[] = [
    {
        name: "unsigned: a rebuilt image with no signature",
        check: /signature: no valid signature from the expected key/,
        make: async (t) => t.ref((await t.forger.forge({ label: "unsigned" })).digest),
    },
    {
        name: "a signature from another key (its provenance and SBOM are from the expected key)",
        check: /signature: no valid signature from the expected key/,
        make: async (t) => t.ref((await t.forger.forge({ ...t.forger.complete("other-key", t.key), sign: t.attacker })).digest),
    },
    {
        name: "an attacker re-signing a rebuilt image with their own key: signature, provenance and SBOM all theirs",
        check: /signature: no valid signature from the expected key/,
        make: async (t) => t.ref((await t.forger.forge({ ...t.forger.complete("re-signed", t.attacker), arm64: { key: t.attacker, provenances: [() => {}] } })).digest),
    },
    {
        name: "an attestation copied from another digest (the genuine image's provenance, moved onto a rebuild)",
        check: /provenance: (the only SLSA provenance signed by the expected key is about sha256:[0-9a-f]{64}, not sha256:[0-9a-f]{64} \(an attestation copied from another digest\)|no SLSA v1 provenance signed by the expected key)/,
        make: async (t) => {
            const forged = await t.forger.forge({ label: "copied-attestation", sign: t.key, sbom: t.key });
            await t.stacks.registry.copyReferrer(t.forger.repo, t.forger.genuine.digest, forged, SLSA);
            return t.ref(forged.digest);
        },
    },
    {
        name: "a provenance naming another source repository, off by one character (signed with the expected key)",
        check: new RegExp(`provenance: source repository is "${OFF_BY_ONE}", expected "https://github.com/example-org/imagefleet"`),
        make: async (t) => t.ref((await t.forger.forge({
            ...t.forger.complete("off-by-one", t.key),
            provenance: { key: t.key, edit: (p) => { p.buildDefinition.externalParameters.source.repository = OFF_BY_ONE; } },
        })).digest),
    },
    {
        name: "a per-platform provenance naming another BuildKit builder (signed with the expected key)",
        check: /provenance of linux\/arm64 \([^)]*\): BuildKit builder is "buildx:\/\/imagefleet-attacker-arm64@10\.0\.0\.66:1235", expected one of/,
        make: async (t) => t.ref((await t.forger.forge({
            ...t.forger.complete("other-builder", t.key),
            arm64: { key: t.key, provenances: [builtOn("imagefleet-attacker-arm64", "tcp://10.0.0.66:1235")] },
        })).digest),
    },
    {
        name: "a provenance naming another generator in builder.id (BuildKit's, as if the build platform had written it)",
        check: /provenance: builder\.id is "https:\/\/mobyproject\.org\/buildkit@v1", expected "https:\/\/github\.com\/imagefleet\/imagefleet\/generators\/pulumi-up\/v1"/,
        make: async (t) => t.ref((await t.forger.forge({
            ...t.forger.complete("other-generator", t.key),
            provenance: { key: t.key, edit: (p) => { p.runDetails.builder.id = "https://mobyproject.org/buildkit@v1"; } },
        })).digest),
    },
    {
        name: "two conflicting provenance documents for one digest, each naming an allowed builder (signed with the expected key)",
        check: /provenance of linux\/arm64 \([^)]*\): 2 SLSA provenance documents signed by the expected key disagree: BuildKit builder "buildx:\/\/imagefleet-local-amd64@127\.0\.0\.1:1234" vs "buildx:\/\/imagefleet-local-arm64@127\.0\.0\.1:1235"/,
        make: async (t) => t.ref((await t.forger.forge({
            ...t.forger.complete("conflicting", t.key),
            arm64: { key: t.key, provenances: [() => {}, builtOn("imagefleet-local-amd64", "tcp://127.0.0.1:1234")] },
        })).digest),
    },
    {
        name: "an index holding a manifest its provenance does not list (signed with the expected key)",
        check: /provenance: the index holds linux\/arm64 sha256:[0-9a-f]{64}, which its provenance does not list; its provenance lists linux\/arm64 sha256:[0-9a-f]{64}, which the index does not hold/,
        make: async (t) => t.ref((await t.forger.forge({
            ...t.forger.complete("unlisted-member", t.key), listGenuineMembers: true, arm64: { key: t.key, provenances: [] },
        })).digest),
    },
    {
        name: "missing attestation: signed, with an SBOM, but no provenance",
        check: /provenance: no SLSA v1 provenance signed by the expected key/,
        make: async (t) => t.ref((await t.forger.forge({ label: "no-provenance", sign: t.key, sbom: t.key })).digest),
    },
    {
        name: "missing attestation: signed, with a provenance, but no SBOM",
        check: /sbom: no SPDX SBOM signed by the expected key/,
        make: async (t) => t.ref((await t.forger.forge({ label: "no-sbom", sign: t.key, provenance: { key: t.key } })).digest),
    },
    {
        name: "the referrers fallback tag (sha256-<hex>) deleted",
        storage: "fallback tag",
        check: /signature: no valid signature from the expected key/,
        make: async (t) => {
            const forged = await t.forger.forge(t.forger.complete("fallback-deleted", t.key));
            const repo = t.forger.repo;
            const tagged = await t.stacks.registry.get(repo, forged.digest.replace(":", "-"));
            assert.equal(tagged.status, 200, "cosign kept no fallback tag for the forgery");
            // distribution deletes a manifest by digest, and every tag on it with it.
            assert.equal(await t.stacks.registry.delete(repo, tagged.digest!), 202);
            return t.ref(forged.digest);
        },
    },
    {
        name: "the referrers fallback tag (sha256-<hex>) edited to list the genuine image's signature and attestations",
        storage: "fallback tag",
        check: /signature: no valid signature from the expected key/,
        make: async (t) => {
            const forged = await t.forger.forge({ label: "fallback-edited" });
            const repo = t.forger.repo;
            const genuine = await t.stacks.registry.get(repo, t.forger.genuine.digest.replace(":", "-"));
            assert.equal(genuine.status, 200);
            await t.stacks.registry.put(repo, forged.digest.replace(":", "-"), genuine.raw!, genuine.mediaType!);
            return t.ref(forged.digest);
        },
    },
    {
        name: "the signature's referrer deleted from the registry",
        storage: "referrers API",
        check: /signature: no valid signature from the expected key/,
        make: async (t) => {
            const forged = await t.forger.forge(t.forger.complete("referrer-deleted", t.key));
            const sig = await t.stacks.registry.bundle(t.forger.repo, forged.digest, SIGNATURE);
            assert.equal(await t.stacks.registry.delete(t.forger.repo, sig.digest), 202);
            return t.ref(forged.digest);
        },
    },
];

interface Round {
    /** Per image: the case it carries and the ref its forgery gave. */
    readonly cases: readonly { readonly image: string; readonly c: Case; readonly ref: string }[];
    readonly out: string;
    readonly code: number;
    readonly before: Record<string, string | null>;
    readonly after: Record<string, string | null>;
}

/**
 * The matrix against one stack pair (`stacks` built and its promoting stack
 * created, the genuine source promoted): each case refused, the prod tags as
 * before. Cases run three to a `pulumi up`, one per image of the family
 * (dev-env, artifact, runtime): every image is verified and every failure
 * reported, so each case still needs its own line naming its image and check,
 * and a case let through would show as a missing line. `storage`: where the
 * registry keeps referrers (the cases for the other way are left out);
 * `only`: the names of the cases to run (default: all).
 */
export function tamperMatrix(stacks: SupplyChainStacks, storage: NonNullable<Case["storage"]>, only?: readonly string[]): void {
    describe("the tamper matrix: each case refused before any prod tag moves, naming the image and the check", () => {
        // Chosen as the suite is declared: the e2e tier forbids skipped (pending) tests.
        const applicable = CASES.filter((c) => (c.storage === undefined || c.storage === storage) && (only === undefined || only.includes(c.name)));
        let tools: Record<string, Tools>;
        let rounds: Promise<Round>[] = [];
        before(async () => {
            const attacker = generateKey(fs.mkdtempSync(path.join(os.tmpdir(), "imagefleet-attacker-")), "attacker");
            tools = Object.fromEntries(await Promise.all(IMAGES.map(async (image) => {
                const repo = stacks.repo(image);
                const forger = await Forger.load(stacks.registry, repo, stacks.digestOf(image), stacks.key);
                return [image, { stacks, forger, key: stacks.key, attacker, ref: (digest: string) => `${stacks.host}/${repo}:${stacks.tag}@${digest}` }];
            })));
            const actual = (await stacks.registry.referrers(stacks.repo(IMAGE), stacks.digestOf(IMAGE))).api ? "referrers API" : "fallback tag";
            assert.equal(actual, storage, `${stacks.host} keeps referrers another way than the suite was declared for`);
            // Rounds start one after another as their first case asks for them.
            rounds = [];
        });
        after(() => stacks.restore());

        const run = async (cases: readonly Case[]): Promise<Round> => {
            const before = await stacks.promotedTags();
            const made = [];
            for (const [i, c] of cases.entries()) {
                made.push({ image: IMAGES[i], c, ref: await c.make(tools[IMAGES[i]]) });
            }
            stacks.swapSourceRefs(Object.fromEntries(made.map((m) => [m.image, m.ref])));
            const r = stacks.promote(["up", "--yes", "--skip-preview"]);
            console.log(`      ${made.length} cases refused by one pulumi up in ${r.seconds.toFixed(0)} s`);
            return { cases: made, out: outputOf(r), code: r.code, before, after: await stacks.promotedTags() };
        };
        const roundOf = (c: Case): Promise<Round> => {
            const n = Math.floor(applicable.indexOf(c) / IMAGES.length);
            for (let i = rounds.length; i <= n; i++) {
                const prev = rounds[i - 1] ?? Promise.resolve(undefined);
                rounds.push(prev.catch(() => undefined).then(() => run(applicable.slice(i * IMAGES.length, (i + 1) * IMAGES.length))));
            }
            return rounds[n];
        };

        for (const c of applicable) {
            it(c.name, async () => {
                const round = await roundOf(c);
                const { image, ref } = round.cases.find((m) => m.c === c)!;
                assert.notEqual(round.code, 0, `the promotion of "${c.name}" (as ${image}) succeeded:\n${round.out.slice(-4000)}`);
                const line = new RegExp(`image "${image}" \\(${ref.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}\\): ${c.check.source}`);
                assert.match(round.out, line, round.out.slice(-4000));
                const others = IMAGES.filter((i) => !round.cases.some((m) => m.image === i));
                for (const other of others) {
                    assert.doesNotMatch(round.out, new RegExp(`image "${other}" \\(`), `${other}, genuine, was reported as failing`);
                }
                assert.deepEqual(round.after, round.before, "a prod tag moved");
            });
        }
    });
}

/**
 * The race: the source's tag moves to the attacker's image after the
 * verification passed and before the prod tags are written. cosign is
 * replaced for the promotion by a wrapper that runs the real one and, right
 * after the runtime image's last check (its SBOM), moves the tag; the prod
 * indexes wait for the whole verification, so the move lands between the
 * two, every time. The promotion must copy what it verified, by digest.
 */
export function tagRace(stacks: SupplyChainStacks): void {
    describe("the tag race", () => itRacesTheTag(stacks));
}

function itRacesTheTag(stacks: SupplyChainStacks): void {
    it("a source tag moved between verification and re-tagging does not slip through: prod gets the verified digest", async () => {
        const repo = stacks.repo(IMAGE);
        const forger = await Forger.load(stacks.registry, repo, stacks.digestOf(IMAGE), stacks.key);
        // A correctly signed and attested new digest: the promotion must accept it (and so moves prod to it).
        const verified = await forger.forge(forger.complete("race-verified", stacks.key));
        const attacker = await forger.forge({ label: "race-attacker" });
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "imagefleet-race-"));
        const body = await stacks.registry.get(repo, attacker.digest);
        fs.writeFileSync(path.join(dir, "attacker.json"), body.raw!);
        const marker = path.join(dir, "moved");
        const real = ok(sh("bash", ["-c", "command -v cosign"])).stdout.trim();
        fs.writeFileSync(path.join(dir, "cosign"), [
            "#!/bin/sh",
            `"${real}" "$@"; rc=$?`,
            `case "$*" in *"--type spdxjson"*"${repo}@${verified.digest}"*)`,
            `  curl -sf -X PUT -H "Content-Type: ${body.mediaType}" --data-binary @${dir}/attacker.json https://${stacks.host}/v2/${repo}/manifests/${stacks.tag} >/dev/null && date +%s.%N > ${marker} ;;`,
            "esac",
            "exit $rc",
        ].join("\n"), { mode: 0o755 });

        stacks.swapSourceRef(IMAGE, `${stacks.host}/${repo}:${stacks.tag}@${verified.digest}`);
        const r = ok(stacks.promote(["up", "--yes", "--skip-preview"], { IMAGEFLEET_COSIGN: path.join(dir, "cosign") }));
        assert.ok(fs.existsSync(marker), "the wrapper never moved the tag: the verification did not run cosign as expected");
        assert.equal((await stacks.registry.get(repo, stacks.tag)).digest, attacker.digest, "the source tag does not point at the attacker's image");
        const now = await stacks.promotedTags();
        assert.equal(now[`${IMAGE}:${stacks.tag}`], verified.digest, "prod's SHA tag is not the verified digest");
        assert.equal(now[`${IMAGE}:local-promote`], verified.digest, "prod's environment tag is not the verified digest");
        console.log(`      promoted the verified digest in ${r.seconds.toFixed(0)} s while the source tag moved`);
        // Back to the genuine source: its tag, the stack's outputs, prod.
        await stacks.registry.moveTag(repo, stacks.tag, stacks.digestOf(IMAGE));
        stacks.restore();
        ok(stacks.promote(["up", "--yes", "--skip-preview"]));
    });
}
