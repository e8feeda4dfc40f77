// The signed supply chain on a registry with the OCI 1.1 referrers API
// (go-containerregistry's, test/e2e/oci-registry.sh), as on ECR: cosign's
// bundles are found through GET /v2/<repo>/referrers/<digest>, and no
// `sha256-<hex>` fallback tag is written. The same `pulumi up` as
// supplychain.spec.ts (its builds are cache hits on the local builders), then
// sign, verify-attestation and promote, and the tamper cases that depend on
// where referrers live.
import { strict as assert } from "assert";
import { fallbackTag, SIGNATURE, SLSA, SPDX } from "./forge";
import {
    describeKeyCustody, IMAGES, itPromotesTheGenuineSource, itVerifiesEveryIndex, referrerTypes, SupplyChainStacks,
} from "./supplychainStacks";
import { CASES, tamperMatrix } from "./tamperMatrix";

const REGISTRY = process.env.IMAGEFLEET_REFERRERS_REGISTRY ?? "registry.localhost:5001";

/** The cases whose outcome depends on how referrers are stored or listed; the rest are the same checks on the same records. */
const ON_THIS_REGISTRY = CASES.filter((c) => c.storage === "referrers API"
    || /unsigned|copied from another digest|conflicting|no SBOM/.test(c.name)).map((c) => c.name);

describe("signed supply chain on a registry with the OCI 1.1 referrers API (go-containerregistry's registry)", function () {
    this.timeout(60 * 60 * 1000);
    const stacks = new SupplyChainStacks(REGISTRY, "referrers");

    before(async () => {
        const res = await fetch(`https://${REGISTRY}/v2/`).catch((e: Error) => e);
        assert.ok(!(res instanceof Error) && res.status === 200, `${REGISTRY} does not answer (test/e2e/oci-registry.sh start): ${String(res)}`);
        stacks.setup();
    });

    it("pulumi up builds the family on this registry, signs every index and attests an SBOM and a SLSA provenance on every digest", () => {
        const r = stacks.build();
        console.log(`      pulumi up: ${r.seconds.toFixed(0)} s`);
        assert.match(stacks.outputs.refs.runtime, new RegExp(`^${REGISTRY}/${stacks.namespace}/runtime:${stacks.tag}@sha256:`));
    });

    itVerifiesEveryIndex(stacks);

    it("stores them as referrers the registry lists through its API, and writes no sha256-<hex> fallback tag", async () => {
        for (const image of IMAGES) {
            const repo = stacks.repo(image);
            for (const digest of [stacks.digestOf(image), ...Object.values<string>(stacks.outputs.platformRefs[image]).map((r) => r.split("@")[1])]) {
                const { api, types } = await referrerTypes(stacks, repo, digest);
                assert.equal(api, true, `${image}: no referrers API answer for ${digest}`);
                const expected = digest === stacks.digestOf(image) ? [SIGNATURE, SLSA, SPDX, SPDX] : [SLSA, SPDX];
                assert.deepEqual(types, expected.sort(), `${image}@${digest}: the API's referrers`);
                assert.equal((await stacks.registry.get(repo, fallbackTag(digest))).status, 404, `${image}: a fallback tag was written beside the API`);
            }
            assert.deepEqual((await stacks.registry.tags(repo)).filter((t) => t.startsWith("sha256-")), [], `${image}: fallback tags`);
        }
    });

    describe("a second stack promotes from it, verifying first", () => {
        before(() => stacks.initPromote());
        itPromotesTheGenuineSource(stacks);
        tamperMatrix(stacks, "referrers API", ON_THIS_REGISTRY);
    });

    describeKeyCustody(stacks);
});
