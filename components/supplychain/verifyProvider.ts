/**
 * The dynamic provider behind `SourceVerification`: checks every source ref
 * with the real cosign before a promotion may tag it. Serialized into state
 * by Pulumi, so it uses only its inputs and Node built-ins.
 */
import type * as pulumi from "@pulumi/pulumi";
import type { ProvenancePolicy } from "./checks";
import * as checks from "./checks";
import * as provenance from "./provenance";
import type { RegistryAuth, VerifyingMaterial } from "./tools";
import * as tools from "./tools";

// Captured by value, not as modules (see providers.ts).
const { checkImageProvenance, indexMembers, manifestsOf, membersMismatch, provenanceConflicts, signatureFound, statementsOf } = checks;
const { SLSA_PROVENANCE_V1, SPDX_PREDICATE } = provenance;
const { COSIGN_VERIFY_FLAGS, runTool, tail } = tools;

export interface VerificationInputs {
    refs: Record<string, string>;
    verifying: VerifyingMaterial;
    policy: ProvenancePolicy;
    registry?: RegistryAuth;
    sourceName: string;
}

function parse(ref: string): { repository: string; digest: string } | undefined {
    const m = /^(.+?)(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?@(sha256:[0-9a-f]{64})$/.exec(ref);
    return m ? { repository: m[1], digest: m[2] } : undefined;
}

type ToolOpts = { verifying: VerifyingMaterial; registry?: RegistryAuth };

/** The SLSA provenances the key signed that cosign finds for `pinned`: those about `digest`, and the digests the others are about. */
async function provenancesOf(pinned: string, digest: string, opts: ToolOpts) {
    const r = await runTool("cosign", ["verify-attestation", ...COSIGN_VERIFY_FLAGS, "{key}", "--type", "slsaprovenance1", pinned], opts);
    const all = r.code === 0 ? statementsOf(r.stdout).filter((s) => s.predicateType === SLSA_PROVENANCE_V1) : [];
    const mine = all.filter((s) => s.subjectDigests.includes(digest));
    const elsewhere = [...new Set(all.filter((s) => !s.subjectDigests.includes(digest)).flatMap((s) => s.subjectDigests))];
    return { r, mine, elsewhere };
}

/**
 * What is wrong with one digest's provenances; empty when every one of them
 * passes the policy and they agree. Every document counts, not the first
 * found: the order the registry lists referrers in is no reason to trust one.
 */
function provenanceProblems(found: Awaited<ReturnType<typeof provenancesOf>>, digest: string, policy: ProvenancePolicy): string[] {
    if (found.mine.length === 0) {
        return found.elsewhere.length > 0
            ? [`the only SLSA provenance signed by the expected key is about ${found.elsewhere.join(", ")}, not ${digest} (an attestation copied from another digest)`]
            : [`no SLSA v1 provenance signed by the expected key${found.r.code !== 0 ? `: ${tail(found.r, 3)}` : ""}`];
    }
    const conflicts = provenanceConflicts(found.mine);
    if (conflicts.length > 0) {
        return [`${found.mine.length} SLSA provenance documents signed by the expected key disagree: ${conflicts.join("; ")}`];
    }
    return [...new Set(found.mine.flatMap((s) => checkImageProvenance(s, digest, policy)))];
}

/** One image: the checks that passed, or the first failure as `<check>: <why>`. */
export async function verifyImage(ref: string, inputs: VerificationInputs): Promise<{ passed: string[]; failure?: string }> {
    const passed: string[] = [];
    const p = parse(ref);
    if (!p) {
        return { passed, failure: `ref: ${JSON.stringify(ref)} is not pinned by a sha256 digest` };
    }
    // Everything below reads by digest, never by tag: a tag moved meanwhile changes nothing here.
    const pinned = `${p.repository}@${p.digest}`;
    const opts: ToolOpts = { verifying: inputs.verifying, registry: inputs.registry };

    const sig = await runTool("cosign", ["verify", ...COSIGN_VERIFY_FLAGS, "{key}", pinned], opts);
    if (sig.code !== 0 || !signatureFound(sig.stdout, p.digest)) {
        const why = sig.code !== 0 ? tail(sig, 3) : "only attestations are signed by that key, not the digest itself";
        return { passed, failure: `signature: no valid signature from the expected key on ${pinned}: ${why}` };
    }
    passed.push("signature");

    const own = await provenancesOf(pinned, p.digest, opts);
    const problems = provenanceProblems(own, p.digest, inputs.policy);
    if (problems.length > 0) {
        return { passed, failure: `provenance: ${problems.join("; ")}` };
    }
    // The per-platform checks follow the provenance's list of members, so that
    // list must be exactly what the registry's index holds (they agree, see above).
    const listed = indexMembers(own.mine[0].predicate);
    const raw = await runTool("docker", ["buildx", "imagetools", "inspect", "--raw", pinned], { registry: inputs.registry, timeoutMs: 120_000 });
    const held = raw.code === 0 ? manifestsOf(raw.stdout) : undefined;
    if (held === undefined) {
        return { passed, failure: `provenance: could not read the manifest of ${pinned} to compare with its provenance: ${tail(raw, 3)}` };
    }
    const mismatch = membersMismatch(held, listed);
    if (mismatch.length > 0) {
        return { passed, failure: `provenance: ${mismatch.join("; ")}` };
    }
    // Each platform's image must have been built by an expected builder (read at once; reported in the provenance's order).
    const found = await Promise.all(listed.map((m) => provenancesOf(`${p.repository}@${m.digest}`, m.digest, opts)));
    for (const [i, member] of listed.entries()) {
        const memberProblems = provenanceProblems(found[i], member.digest, inputs.policy);
        if (memberProblems.length > 0) {
            return { passed, failure: `provenance of ${member.platform} (${p.repository}@${member.digest}): ${memberProblems.join("; ")}` };
        }
    }
    passed.push("provenance");

    const sbom = await runTool("cosign", ["verify-attestation", ...COSIGN_VERIFY_FLAGS, "{key}", "--type", "spdxjson", pinned], opts);
    const sboms = sbom.code === 0 ? statementsOf(sbom.stdout) : [];
    if (!sboms.some((s) => s.predicateType === SPDX_PREDICATE && s.subjectDigests.includes(p.digest))) {
        return { passed, failure: `sbom: no SPDX SBOM signed by the expected key for ${pinned}${sbom.code !== 0 ? `: ${tail(sbom, 3)}` : ""}` };
    }
    passed.push("sbom");
    return { passed };
}

/** Images verified at once: each is a handful of cosign runs, mostly waiting on the registry. */
const PARALLEL_IMAGES = 4;

async function verifyAll(inputs: VerificationInputs): Promise<Record<string, string[]>> {
    const keys = Object.keys(inputs.refs).sort();
    const results: Awaited<ReturnType<typeof verifyImage>>[] = [];
    let next = 0;
    const worker = async () => {
        while (next < keys.length) {
            const i = next++;
            results[i] = await verifyImage(inputs.refs[keys[i]], inputs);
        }
    };
    await Promise.all(Array.from({ length: Math.min(PARALLEL_IMAGES, keys.length) }, worker));
    const report: Record<string, string[]> = {};
    const failures: string[] = [];
    keys.forEach((key, i) => {
        report[key] = results[i].passed;
        if (results[i].failure) {
            failures.push(`image ${JSON.stringify(key)} (${inputs.refs[key]}): ${results[i].failure}`);
        }
    });
    if (failures.length > 0) {
        throw new Error(`supply chain verification of ${inputs.sourceName} failed; no image was promoted:\n${failures.map((f) => `  - ${f}`).join("\n")}`);
    }
    return report;
}

const WATCHED = ["refs", "verifying", "policy"] as const;

export const verificationProvider: pulumi.dynamic.ResourceProvider = {
    async create(inputs: VerificationInputs) {
        const report = await verifyAll(inputs);
        return { id: "verified", outs: { refs: inputs.refs, policy: inputs.policy, verifying: inputs.verifying, report } };
    },
    async diff(_id: string, olds: Record<string, unknown>, news: Record<string, unknown>) {
        const changed = WATCHED.filter((k) => JSON.stringify(olds[k]) !== JSON.stringify(news[k]));
        return { changes: changed.length > 0 };
    },
    async update(_id: string, _olds: unknown, news: VerificationInputs) {
        const report = await verifyAll(news);
        return { outs: { refs: news.refs, policy: news.policy, verifying: news.verifying, report } };
    },
};
