/**
 * The dynamic provider behind `SourceVerification`: checks every source ref
 * with the real cosign before a promotion may tag it. Serialized into state
 * by Pulumi, so it uses only its inputs and Node built-ins.
 */
import type * as pulumi from "@pulumi/pulumi";
import type { AttestedBuildView, ProvenancePolicy } from "./checks";
import * as checks from "./checks";
import * as provenance from "./provenance";
import type { RegistryAuth, VerifyingMaterial } from "./tools";
import * as tools from "./tools";

// Captured by value, not as modules (see providers.ts).
const { checkBuilderProvenance, checkImageProvenance, indexMembers, manifestsOf, membersMismatch, provenanceConflicts, signatureFound, statementsOf } = checks;
const { SLSA_PROVENANCE_V1, SPDX_PREDICATE } = provenance;
const { COSIGN_VERIFY_FLAGS, runTool, tail } = tools;

export interface VerificationInputs {
    refs: Record<string, string>;
    verifying: VerifyingMaterial;
    policy: ProvenancePolicy;
    registry?: RegistryAuth;
    sourceName: string;
    /** Per image key and platform, what the building stack recorded for a build its host attests (its `attestedBy`). */
    attested?: Record<string, Record<string, AttestedBuildView>>;
    /** The builders this stack trusts to attest, with their keys; a build on any other is refused. */
    builderKeys?: Record<string, VerifyingMaterial>;
    /** How long to wait for a host's attestations (it signs after the push). Default: 600. */
    waitSeconds?: number;
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

/**
 * One platform manifest a builder's host attests: waits (up to the bound) for
 * a provenance and an SBOM signed by the key this stack trusts for that
 * builder, then checks the provenance describes the build the building stack
 * recorded. Returns the failure, or undefined.
 */
async function builderAttested(repository: string, platform: string, expected: AttestedBuildView, inputs: VerificationInputs): Promise<string | undefined> {
    const pinned = `${repository}@${expected.digest}`;
    const at = `provenance of ${platform} (${pinned})`;
    const key = inputs.builderKeys?.[expected.builder];
    if (key === undefined) {
        const trusted = Object.keys(inputs.builderKeys ?? {}).sort();
        return `${at}: built on ${JSON.stringify(expected.builder)}, which is not a builder this stack trusts to attest `
            + `(imagefleet:supplychain.verify.builderKeys: ${trusted.length > 0 ? trusted.map((b) => JSON.stringify(b)).join(", ") : "none"})`;
    }
    const opts: ToolOpts = { verifying: key, registry: inputs.registry };
    const waitSeconds = inputs.waitSeconds ?? 600;
    const deadline = Date.now() + waitSeconds * 1000;
    for (;;) {
        const found = await provenancesOf(pinned, expected.digest, opts);
        const sbom = await runTool("cosign", ["verify-attestation", ...COSIGN_VERIFY_FLAGS, "{key}", "--type", "spdxjson", pinned], opts);
        const sbomFound = sbom.code === 0 && statementsOf(sbom.stdout).some((st) => st.predicateType === SPDX_PREDICATE && st.subjectDigests.includes(expected.digest));
        if (found.mine.length > 0 && sbomFound) {
            const problems = [...new Set(found.mine.flatMap((st) => checkBuilderProvenance(st, expected)))];
            return problems.length > 0 ? `${at}: signed by ${expected.builder}'s key, but ${problems.join("; ")}` : undefined;
        }
        if (Date.now() >= deadline) {
            const missing = [found.mine.length === 0 ? "SLSA provenance" : "", sbomFound ? "" : "SPDX SBOM"].filter(Boolean).join(" and ");
            const copied = found.mine.length === 0 && found.elsewhere.length > 0
                ? `; the only provenance that key signed there is about ${found.elsewhere.join(", ")} (an attestation copied from another build)` : "";
            return `${at}: no ${missing} signed by ${JSON.stringify(expected.builder)}'s key after waiting ${waitSeconds} s${copied}; `
                + "its host's attestor signs each build after the push: if it is down or behind, see its log (README \"SLSA Build level\"), then run `pulumi up` again";
        }
        await new Promise((resolve) => setTimeout(resolve, Math.min(5000, Math.max(0, deadline - Date.now()))));
    }
}

/**
 * An image every platform of which its builders' hosts attest: nobody signs
 * the index itself, so what is checked is that the index (read by digest)
 * holds exactly the manifests the building stack recorded, and each of those
 * has its builder's attestations (`builderAttested`).
 */
async function verifyAttestedIndex(p: { repository: string; digest: string }, expected: Record<string, AttestedBuildView>, inputs: VerificationInputs): Promise<{ passed: string[]; failure?: string }> {
    const passed: string[] = [];
    const pinned = `${p.repository}@${p.digest}`;
    const raw = await runTool("docker", ["buildx", "imagetools", "inspect", "--raw", pinned], { registry: inputs.registry, timeoutMs: 120_000 });
    const held = raw.code === 0 ? manifestsOf(raw.stdout) : undefined;
    if (held === undefined) {
        return { passed, failure: `index: could not read the manifest of ${pinned}: ${tail(raw, 3)}` };
    }
    const recorded = Object.keys(expected).sort();
    const holds = held.map((m) => m.platform).sort();
    if (JSON.stringify(holds) !== JSON.stringify(recorded)) {
        return { passed, failure: `index: ${pinned} holds ${holds.join(", ") || "nothing"}, but the building stack recorded builds of ${recorded.join(", ")}` };
    }
    for (const m of held) {
        if (m.digest !== expected[m.platform].digest) {
            return { passed, failure: `index: its ${m.platform} manifest is ${m.digest}, but the building stack recorded ${expected[m.platform].digest} (built on ${expected[m.platform].builder})` };
        }
    }
    passed.push("index");
    const failures = await Promise.all(held.map((m) => builderAttested(p.repository, m.platform, expected[m.platform], inputs)));
    const failure = failures.find((f) => f !== undefined);
    if (failure !== undefined) {
        return { passed, failure };
    }
    passed.push("builder provenance", "builder sbom");
    return { passed };
}

/** One image: the checks that passed, or the first failure as `<check>: <why>`. */
export async function verifyImage(ref: string, inputs: VerificationInputs, imageKey = ""): Promise<{ passed: string[]; failure?: string }> {
    const passed: string[] = [];
    const p = parse(ref);
    if (!p) {
        return { passed, failure: `ref: ${JSON.stringify(ref)} is not pinned by a sha256 digest` };
    }
    // Everything below reads by digest, never by tag: a tag moved meanwhile changes nothing here.
    const pinned = `${p.repository}@${p.digest}`;
    const attested = inputs.attested?.[imageKey] ?? {};
    if (Object.keys(attested).length > 0 && !await deployerSigned(pinned, p.digest, inputs)) {
        return verifyAttestedIndex(p, attested, inputs);
    }
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
    // A platform its builder's host attests carries that host's records, not the deployer's.
    const hosted = await Promise.all(listed.map((m) => attested[m.platform]?.digest === m.digest
        ? builderAttested(p.repository, m.platform, attested[m.platform], inputs) : Promise.resolve(null)));
    const found = await Promise.all(listed.map((m, i) => hosted[i] === null ? provenancesOf(`${p.repository}@${m.digest}`, m.digest, opts) : Promise.resolve(undefined)));
    for (const [i, member] of listed.entries()) {
        if (hosted[i] !== null) {
            if (hosted[i] !== undefined) {
                return { passed, failure: hosted[i] };
            }
            continue;
        }
        const memberProblems = provenanceProblems(found[i]!, member.digest, inputs.policy);
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

/** Whether the deployer's key signed the index: an index whose platforms all attest on their hosts may have no signature at all. */
async function deployerSigned(pinned: string, digest: string, inputs: VerificationInputs): Promise<boolean> {
    const sig = await runTool("cosign", ["verify", ...COSIGN_VERIFY_FLAGS, "{key}", pinned], { verifying: inputs.verifying, registry: inputs.registry });
    return sig.code === 0 && signatureFound(sig.stdout, digest);
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
            results[i] = await verifyImage(inputs.refs[keys[i]], inputs, keys[i]);
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

const WATCHED = ["refs", "verifying", "policy", "attested", "builderKeys"] as const;

/** What a verification's state keeps of its inputs: what the diff compares the next run's inputs with. */
function outsOf(inputs: VerificationInputs, report: unknown) {
    // Only what is set: the engine's Struct cannot hold an undefined value.
    const optional = Object.fromEntries((["attested", "builderKeys"] as const).filter((k) => inputs[k] !== undefined).map((k) => [k, inputs[k]]));
    return { refs: inputs.refs, policy: inputs.policy, verifying: inputs.verifying, ...optional, report };
}

/** `attested` and `builderKeys` came later: absent (a state from before) and empty are the same setting. */
const watched = (v: unknown): string | undefined =>
    v === undefined || v === null || (typeof v === "object" && Object.keys(v).length === 0) ? undefined : JSON.stringify(v);

export const verificationProvider: pulumi.dynamic.ResourceProvider = {
    async create(inputs: VerificationInputs) {
        const report = await verifyAll(inputs);
        return { id: "verified", outs: outsOf(inputs, report) };
    },
    async diff(_id: string, olds: Record<string, unknown>, news: Record<string, unknown>) {
        const changed = WATCHED.filter((k) => watched(olds[k]) !== watched(news[k]));
        return { changes: changed.length > 0 };
    },
    async update(_id: string, _olds: unknown, news: VerificationInputs) {
        const report = await verifyAll(news);
        return { outs: outsOf(news, report) };
    },
};
