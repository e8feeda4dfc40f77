/**
 * The checks a promotion runs on what cosign verified: signature entries,
 * provenance statements and their fields. Pure functions, run inside the
 * verification provider; like provenance.ts they refer only to functions and
 * to values bound below, never to a module (Pulumi serializes them by value).
 */
import * as provenance from "./provenance";
import type { IndexMember } from "./provenance";

const { builderMatches, SLSA_PROVENANCE_V1: SLSA_V1, BUILD_TYPE_IMAGE: IMAGE_TYPE, BUILD_TYPE_INDEX: INDEX_TYPE } = provenance;

/** The parts of a SLSA v1 predicate the checks read; anything may be missing in an untrusted one. */
export interface PredicateView {
    readonly buildDefinition?: {
        readonly buildType?: string;
        readonly externalParameters?: { readonly source?: { readonly repository?: string; readonly commit?: string } };
        readonly resolvedDependencies?: readonly { readonly name?: string; readonly uri?: string; readonly digest?: { readonly sha256?: string } }[];
    };
    readonly runDetails?: { readonly builder?: { readonly id?: string } };
}

/** What one verified provenance says, for the checks below. */
export interface ProvenanceStatement {
    readonly subjectDigests: readonly string[];
    readonly predicateType: string;
    readonly predicate: PredicateView & Record<string, unknown>;
}

/** Expectations a promotion holds a source's provenance to. */
export interface ProvenancePolicy {
    readonly sourceRepository: string;
    /** Builder names or full builder ids. */
    readonly builders: readonly string[];
}

/** Problems with an image's provenance; empty when it matches. */
export function checkImageProvenance(s: ProvenanceStatement, digest: string, policy: ProvenancePolicy): string[] {
    const problems: string[] = [];
    if (s.predicateType !== SLSA_V1) {
        problems.push(`predicate type is ${JSON.stringify(s.predicateType)}, expected ${SLSA_V1}`);
    }
    if (!s.subjectDigests.includes(digest)) {
        problems.push(`its subject is ${s.subjectDigests.join(", ") || "(none)"}, not ${digest}`);
    }
    const repo = s.predicate?.buildDefinition?.externalParameters?.source?.repository;
    if (repo !== policy.sourceRepository) {
        problems.push(`source repository is ${JSON.stringify(repo)}, expected ${JSON.stringify(policy.sourceRepository)}`);
    }
    const buildType = s.predicate?.buildDefinition?.buildType;
    if (buildType === IMAGE_TYPE) {
        const id = String(s.predicate?.runDetails?.builder?.id ?? "");
        if (!builderMatches(id, policy.builders)) {
            problems.push(`builder is ${JSON.stringify(id)}, expected one of ${policy.builders.map((b) => JSON.stringify(b)).join(", ")}`);
        }
    } else if (buildType !== INDEX_TYPE) {
        problems.push(`build type is ${JSON.stringify(buildType)}`);
    }
    return problems;
}

/** The per-platform members an index's provenance lists: `{ platform, digest }`. */
export function indexMembers(predicate: PredicateView): IndexMember[] {
    const deps = predicate?.buildDefinition?.resolvedDependencies ?? [];
    return deps
        .filter((d) => typeof d?.uri === "string" && d.uri.startsWith("docker-image://") && typeof d?.digest?.sha256 === "string")
        .map((d) => ({ platform: String(d.name), digest: `sha256:${d.digest!.sha256}` }));
}

/** The payload type of a `cosign sign` signature (not an attestation). */
const SIGNATURE_TYPE = "https://sigstore.dev/cosign/sign/v1";
export const COSIGN_SIGNATURE_TYPE = SIGNATURE_TYPE;

/**
 * Whether `cosign verify` output holds a *signature* of `digest`. cosign v3
 * (bundle format) accepts any bundle signed by the key, attestations included,
 * so a manifest that only carries an SBOM or a provenance passes `cosign
 * verify` too; only an entry of type cosign/sign/v1 is a signature.
 */
export function signatureFound(output: string, digest: string): boolean {
    return output.split("\n").filter((l) => l.trim().startsWith("[")).some((line) => {
        const entries = JSON.parse(line) as { critical?: { type?: string; image?: Record<string, string> } }[];
        return entries.some((e) => e.critical?.type === SIGNATURE_TYPE && e.critical?.image?.["docker-manifest-digest"] === digest);
    });
}

/** Splits cosign's `verify-attestation` output (one DSSE envelope per line) into statements. */
export function statementsOf(output: string): ProvenanceStatement[] {
    return output.split("\n").filter((l) => l.trim().startsWith("{")).flatMap((line) => {
        const env = JSON.parse(line);
        const payload = env.payload ?? env.dsseEnvelope?.payload;
        if (typeof payload !== "string") {
            return [];
        }
        const st = JSON.parse(Buffer.from(payload, "base64").toString("utf8")) as {
            subject?: { digest?: { sha256?: string } }[]; predicateType?: string; predicate?: ProvenanceStatement["predicate"];
        };
        return [{
            subjectDigests: (st.subject ?? []).map((s) => `sha256:${s?.digest?.sha256}`),
            predicateType: String(st.predicateType),
            predicate: st.predicate ?? {},
        }];
    });
}
