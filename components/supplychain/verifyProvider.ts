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
const { checkImageProvenance, indexMembers, signatureFound, statementsOf } = checks;
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

/** One image: the checks that passed, or the first failure as `<check>: <why>`. */
export async function verifyImage(ref: string, inputs: VerificationInputs): Promise<{ passed: string[]; failure?: string }> {
    const passed: string[] = [];
    const p = parse(ref);
    if (!p) {
        return { passed, failure: `ref: ${JSON.stringify(ref)} is not pinned by a sha256 digest` };
    }
    const pinned = `${p.repository}@${p.digest}`;
    const opts = { verifying: inputs.verifying, registry: inputs.registry };

    const sig = await runTool("cosign", ["verify", ...COSIGN_VERIFY_FLAGS, "{key}", pinned], opts);
    if (sig.code !== 0 || !signatureFound(sig.stdout, p.digest)) {
        const why = sig.code !== 0 ? tail(sig, 3) : "only attestations are signed by that key, not the digest itself";
        return { passed, failure: `signature: no valid signature from the expected key on ${pinned}: ${why}` };
    }
    passed.push("signature");

    const attested = async (digestRef: string, type: string) => {
        const r = await runTool("cosign", ["verify-attestation", ...COSIGN_VERIFY_FLAGS, "{key}", "--type", type, digestRef], opts);
        return { r, statements: r.code === 0 ? statementsOf(r.stdout) : [] };
    };

    const prov = await attested(pinned, "slsaprovenance1");
    const mine = prov.statements.filter((s) => s.predicateType === SLSA_PROVENANCE_V1 && s.subjectDigests.includes(p.digest));
    if (mine.length === 0) {
        return { passed, failure: `provenance: no SLSA v1 provenance signed by the expected key for ${pinned}${prov.r.code !== 0 ? `: ${tail(prov.r, 3)}` : ""}` };
    }
    const problems = checkImageProvenance(mine[0], p.digest, inputs.policy);
    if (problems.length > 0) {
        return { passed, failure: `provenance: ${problems.join("; ")}` };
    }
    // An index's provenance lists its per-platform images; each must have been built by an expected builder.
    for (const member of indexMembers(mine[0].predicate)) {
        const memberRef = `${p.repository}@${member.digest}`;
        const m = (await attested(memberRef, "slsaprovenance1")).statements.find((s) => s.predicateType === SLSA_PROVENANCE_V1 && s.subjectDigests.includes(member.digest));
        const memberProblems = m ? checkImageProvenance(m, member.digest, inputs.policy) : ["no SLSA v1 provenance signed by the expected key"];
        if (memberProblems.length > 0) {
            return { passed, failure: `provenance of ${member.platform} (${memberRef}): ${memberProblems.join("; ")}` };
        }
    }
    passed.push("provenance");

    const sbom = await attested(pinned, "spdxjson");
    if (!sbom.statements.some((s) => s.predicateType === SPDX_PREDICATE && s.subjectDigests.includes(p.digest))) {
        return { passed, failure: `sbom: no SPDX SBOM signed by the expected key for ${pinned}${sbom.r.code !== 0 ? `: ${tail(sbom.r, 3)}` : ""}` };
    }
    passed.push("sbom");
    return { passed };
}

async function verifyAll(inputs: VerificationInputs): Promise<Record<string, string[]>> {
    const report: Record<string, string[]> = {};
    const failures: string[] = [];
    for (const key of Object.keys(inputs.refs).sort()) {
        const result = await verifyImage(inputs.refs[key], inputs);
        report[key] = result.passed;
        if (result.failure) {
            failures.push(`image ${JSON.stringify(key)} (${inputs.refs[key]}): ${result.failure}`);
        }
    }
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
