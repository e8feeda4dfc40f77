// The signed supply chain for real, on distribution's registry (no OCI 1.1
// referrers API: cosign keeps signatures and attestations under the
// `sha256-<hex>` fallback tag): `pulumi up` on the local stack with the
// Go-built cosign and syft, then a second local stack that promotes from it
// and must refuse every case of the tamper matrix (tamperMatrix.ts).
// referrers.spec.ts runs the same on a registry with the referrers API.
import { strict as assert } from "assert";
import { PROVENANCE_GENERATOR_ID } from "../../components/supplychain";
import { SIGNATURE, SLSA, SPDX } from "./forge";
import {
    BUILDERS, describeKeyCustody, IMAGES, itPromotesTheGenuineSource, itVerifiesEveryIndex, ok, referrerTypes, statements,
    SupplyChainStacks, verifier,
} from "./supplychainStacks";
import { must, runSha, sh } from "./support";
import { tagRace, tamperMatrix } from "./tamperMatrix";

const REGISTRY = process.env.IMAGEFLEET_REGISTRY ?? "registry.localhost:5000";
const ENDPOINTS: Record<string, string> = { "linux/amd64": "127.0.0.1:1234", "linux/arm64": "127.0.0.1:1235" };

describe("signed supply chain on the local stack (real engine, cosign, syft, distribution's registry: the fallback tag)", function () {
    this.timeout(60 * 60 * 1000);
    const stacks = new SupplyChainStacks(REGISTRY, "sc");
    const pinned = (ref: string) => ref.replace(/:[^:/@]+@/, "@");

    before(() => stacks.setup());

    it("pulumi up builds the family, then signs every index and attests an SBOM and a SLSA provenance on every digest", () => {
        const r = stacks.build();
        console.log(`      pulumi up: ${r.seconds.toFixed(0)} s`);
        assert.match(stacks.outputs.supplychain.verifyKey, /^-----BEGIN PUBLIC KEY-----/);
        assert.match(stacks.outputs.refs.runtime, new RegExp(`^${REGISTRY}/${stacks.namespace}/runtime:${stacks.tag}@sha256:`));
    });

    itVerifiesEveryIndex(stacks);

    it("stores them under the sha256-<hex> fallback tag, none lost to concurrent writes: this registry has no referrers API", async () => {
        for (const image of IMAGES) {
            const repo = stacks.repo(image);
            for (const digest of [stacks.digestOf(image), ...Object.values<string>(stacks.outputs.platformRefs[image]).map((r) => r.split("@")[1])]) {
                assert.equal((await stacks.registry.referrersApi(repo, digest)).status, 404, "distribution answers the referrers API");
                const { api, types } = await referrerTypes(stacks, repo, digest);
                assert.equal(api, false);
                const expected = digest === stacks.digestOf(image) ? [SIGNATURE, SLSA, SPDX, SPDX] : [SLSA, SPDX];
                assert.deepEqual(types, expected.sort(), `${image}@${digest}: the fallback tag's referrers`);
            }
        }
    });

    it("each per-platform provenance names the commit, the BuildKit builder and its host, the Dockerfile, and the digests it was built from; builder.id names imagefleet", () => {
        const { attested } = verifier(stacks);
        for (const image of IMAGES) {
            for (const [platform, ref] of Object.entries<string>(stacks.outputs.platformRefs[image])) {
                const r = attested(pinned(ref), "slsaprovenance1");
                assert.equal(r.code, 0, `${image} ${platform}: ${r.stderr.slice(-2000)}`);
                const p = statements(r)[0].predicate;
                assert.equal(p.buildDefinition.externalParameters.source.commit, stacks.sha);
                assert.equal(p.buildDefinition.externalParameters.source.repository, "https://github.com/example-org/imagefleet");
                assert.equal(p.buildDefinition.externalParameters.dockerfile, `example/${image}.Dockerfile`);
                // What wrote the statement (SLSA Build L1: the deploying program), and apart from it the BuildKit host that built.
                assert.equal(p.runDetails.builder.id, PROVENANCE_GENERATOR_ID);
                const arch = platform.split("/")[1];
                assert.equal(p.buildDefinition.internalParameters.buildkit.builder, `buildx://${BUILDERS.find((b) => b.endsWith(arch))}@${ENDPOINTS[platform]}`);
                // "context" (the staged context's digest) is there when the family stages contexts (issue 10).
                const deps = p.buildDefinition.resolvedDependencies.map((d: any) => d.name).filter((n: string) => n && n !== "context");
                const expected = { "dev-env": ["registry.localhost:5000/base/debian:bookworm"], artifact: ["dev-env", "registry.localhost:5000/base/busybox:1.36"],
                    runtime: ["artifact", "registry.localhost:5000/base/debian:bookworm"] }[image];
                assert.deepEqual(deps, expected, `${image} ${platform}`);
                for (const d of p.buildDefinition.resolvedDependencies.slice(1)) {
                    assert.match(d.digest?.sha256 ?? "", /^[0-9a-f]{64}$/, `${image} ${platform}: ${d.name} has no digest`);
                }
            }
        }
    });

    it("the dev-env image's SBOM lists gcc and libc", () => {
        const { attested } = verifier(stacks);
        const r = attested(pinned(stacks.outputs.platformRefs["dev-env"]["linux/amd64"]), "spdxjson");
        assert.equal(r.code, 0, r.stderr);
        const names: string[] = statements(r)[0].predicate.packages.map((p: any) => p.name);
        assert.ok(names.some((n) => /^gcc(-\d+)?$/.test(n)), `no gcc among ${names.length} packages`);
        assert.ok(names.includes("libc6") && names.includes("libc6-dev"), "no libc6/libc6-dev");
        const runtime = statements(attested(pinned(stacks.outputs.platformRefs.runtime["linux/arm64"]), "spdxjson"))[0].predicate.packages.map((p: any) => p.name);
        assert.ok(!runtime.some((n: string) => /^gcc(-\d+)?$/.test(n)), "the runtime image's SBOM lists gcc");
    });

    it("a second pulumi up with no change signs and attests nothing", () => {
        const r = ok(stacks.local("up", "--yes", "--expect-no-changes"));
        assert.doesNotMatch(r.stdout, /supplychain.*(created|updated|replaced)/);
    });

    describe("a second local stack promotes from the local stack, verifying first", () => {
        before(() => stacks.initPromote());

        it("refuses an unsigned image pushed by hand under the source tag, naming the image and the check, and creates no tag", async () => {
            // The attacker pushes their image under the source's tag and points the source stack's output at it.
            const repo = `${REGISTRY}/${stacks.repo("runtime")}`;
            must("docker", ["buildx", "imagetools", "create", "-t", `${repo}:${stacks.tag}`, `${REGISTRY}/base/busybox:1.36`]);
            const forged = (await stacks.registry.get(stacks.repo("runtime"), stacks.tag)).digest!;
            assert.notEqual(forged, stacks.digestOf("runtime"));
            stacks.swapSourceRef("runtime", `${repo}:${stacks.tag}@${forged}`);
            const r = stacks.promote(["up", "--yes"]);
            assert.notEqual(r.code, 0, "the promotion of a tampered source succeeded");
            const out = r.stdout + r.stderr;
            assert.match(out, /image "runtime" \([^)]*\): signature: no valid signature from the expected key/);
            assert.doesNotMatch(out, /image "dev-env"[^\n]*: /, "a genuine image was reported as failing");
            for (const image of IMAGES) {
                assert.deepEqual(await stacks.registry.tags(`${stacks.promotedNs}/${image}`), [], `a tag was written for ${image}`);
            }
            // The source tag stays on the attacker's image for what follows: promotion reads by digest.
        });

        itPromotesTheGenuineSource(stacks);

        it("refuses a digest swapped in the source stack's outputs, naming the image, and moves no prod tag", async () => {
            const before = await stacks.promotedTags();
            // dev-env's amd64 manifest: in the right repository, attested, but never signed as an index.
            const amd64 = stacks.outputs.platformRefs["dev-env"]["linux/amd64"].split("@")[1];
            stacks.swapSourceRef("dev-env", `${REGISTRY}/${stacks.repo("dev-env")}:${stacks.tag}@${amd64}`);
            const r = stacks.promote(["up", "--yes"]);
            assert.notEqual(r.code, 0, "the promotion of a swapped digest succeeded");
            assert.match(r.stdout + r.stderr, /image "dev-env" \([^)]*\): signature: /);
            assert.deepEqual(await stacks.promotedTags(), before, "a prod tag moved");
            stacks.restore();
            ok(stacks.promote(["up", "--yes", "--expect-no-changes"]));
        });

        tamperMatrix(stacks, "fallback tag");
        tagRace(stacks);
    });

    describeKeyCustody(stacks);

    describe("a later commit", () => {
        it("re-attests exactly the digests that changed; a republished digest keeps the record naming the commit that built it", () => {
            type Res = { urn: string; type: string; outputs: any };
            const attestations = () => (JSON.parse(ok(stacks.local("stack", "export")).stdout).deployment.resources as Res[])
                .filter((r) => /dynamic\/supplychain:(Platform|Index)Attestation$/.test(r.type));
            const before = attestations();
            const next = runSha();
            const r = ok(sh("bash", ["scripts/up-local.sh", "up", "--yes"], { cwd: stacks.dir, env: { ...stacks.env, GIT_COMMIT: next } }));
            console.log(`      pulumi up of a new commit: ${r.seconds.toFixed(0)} s`);
            const after = new Map(attestations().map((a) => [a.urn, a]));
            let kept = 0;
            for (const old of before) {
                const now = after.get(old.urn)!;
                if (now.outputs.digest === old.outputs.digest) {
                    // Content-addressed builds (issue 10): same digest, nothing signed again.
                    assert.deepEqual(now.outputs, old.outputs, `${old.urn} was attested again for an unchanged digest`);
                    kept++;
                } else if (now.outputs.predicate) {
                    assert.equal(now.outputs.predicate.buildDefinition.externalParameters.source.commit, next, `${old.urn} names another commit`);
                }
            }
            console.log(`      ${kept} of ${before.length} attestations kept (digest unchanged), ${before.length - kept} made for new digests`);
        });
    });
});
