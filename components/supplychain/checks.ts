/**
 * The checks a promotion runs on what cosign verified: signature entries,
 * provenance statements and their fields. Pure functions, run inside the
 * verification provider; like provenance.ts they refer only to functions and
 * to values bound below, never to a module (Pulumi serializes them by value).
 */
import * as provenance from "./provenance";
import type { IndexMember } from "./provenance";

const {
    builderMatches, SLSA_PROVENANCE_V1: SLSA_V1, BUILD_TYPE_IMAGE: IMAGE_TYPE, BUILD_TYPE_INDEX: INDEX_TYPE, PROVENANCE_GENERATOR_ID: GENERATOR,
} = provenance;

/** The parts of a SLSA v1 predicate the checks read; anything may be missing in an untrusted one. */
export interface PredicateView {
    readonly buildDefinition?: {
        readonly buildType?: string;
        readonly externalParameters?: {
            readonly source?: { readonly repository?: string; readonly commit?: string };
            readonly image?: string;
            readonly variant?: string;
            readonly platform?: string;
        };
        readonly internalParameters?: { readonly buildkit?: { readonly builder?: string } };
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
    // The generator a verifier trusts is part of the policy: the same key behind another generator is another claim.
    const generator = s.predicate?.runDetails?.builder?.id;
    if (generator !== GENERATOR) {
        problems.push(`builder.id is ${JSON.stringify(generator)}, expected ${JSON.stringify(GENERATOR)} (what imagefleet's provenance names as its generator)`);
    }
    const repo = s.predicate?.buildDefinition?.externalParameters?.source?.repository;
    if (repo !== policy.sourceRepository) {
        problems.push(`source repository is ${JSON.stringify(repo)}, expected ${JSON.stringify(policy.sourceRepository)}`);
    }
    const buildType = s.predicate?.buildDefinition?.buildType;
    if (buildType === IMAGE_TYPE) {
        const id = String(s.predicate?.buildDefinition?.internalParameters?.buildkit?.builder ?? "");
        if (!builderMatches(id, policy.builders)) {
            problems.push(`BuildKit builder is ${JSON.stringify(id)}, expected one of ${policy.builders.map((b) => JSON.stringify(b)).join(", ")}`);
        }
    } else if (buildType !== INDEX_TYPE) {
        problems.push(`build type is ${JSON.stringify(buildType)}`);
    }
    return problems;
}

/**
 * Where several provenances of one digest (all signed by the expected key)
 * disagree, as `<field> "a" vs "b"`; empty when they agree. Only what the
 * digest settles, or what the policy rests on, counts: the same bytes
 * published again from a later commit (content-addressed builds) differ in
 * commit and times, which is no conflict. Which of two disagreeing documents
 * is true cannot be told, so a promotion refuses both.
 */
export function provenanceConflicts(statements: readonly ProvenanceStatement[]): string[] {
    const material = (p: PredicateView): Record<string, string | undefined> => ({
        "build type": p?.buildDefinition?.buildType,
        "builder.id": p?.runDetails?.builder?.id,
        "source repository": p?.buildDefinition?.externalParameters?.source?.repository,
        "image": p?.buildDefinition?.externalParameters?.image,
        "variant": p?.buildDefinition?.externalParameters?.variant,
        "platform": p?.buildDefinition?.externalParameters?.platform,
        "BuildKit builder": p?.buildDefinition?.internalParameters?.buildkit?.builder,
        "members": JSON.stringify(indexMembers(p)),
    });
    const all = statements.map((s) => material(s.predicate));
    return Object.keys(all[0] ?? {}).flatMap((field) => {
        // Sorted: registries list referrers in no particular order, and the message should not depend on it.
        const values = [...new Set(all.map((m) => JSON.stringify(m[field] ?? null)))].sort();
        return values.length > 1 ? [`${field} ${values.join(" vs ")}`] : [];
    });
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

/**
 * The platform manifests a manifest holds, as `docker buildx imagetools
 * inspect --raw` prints it: an index's entries without BuildKit's attestation
 * manifests (platform `unknown/unknown`); none for a single image manifest.
 * Undefined when the text is not a manifest.
 */
export function manifestsOf(raw: string): IndexMember[] | undefined {
    let m: { manifests?: { digest?: string; platform?: { os?: string; architecture?: string; variant?: string } }[]; config?: unknown; layers?: unknown };
    try {
        m = JSON.parse(raw);
    } catch {
        return undefined;
    }
    if (!Array.isArray(m?.manifests)) {
        return m?.config !== undefined || Array.isArray(m?.layers) ? [] : undefined;
    }
    return m.manifests
        .filter((d) => d?.platform && d.platform.os !== "unknown")
        .map((d) => ({ platform: `${d.platform!.os}/${d.platform!.architecture}${d.platform!.variant ? `/${d.platform!.variant}` : ""}`, digest: String(d.digest) }));
}

/**
 * Where what an index holds differs from what its provenance lists; empty
 * when they are the same. The per-platform checks follow the provenance's
 * list, so a manifest the list leaves out would be promoted unchecked.
 */
export function membersMismatch(held: readonly IndexMember[], listed: readonly IndexMember[]): string[] {
    // By digest: registries and tools spell platforms differently (arm64 with or without variant v8).
    const inList = new Set(listed.map((m) => m.digest));
    const inIndex = new Set(held.map((m) => m.digest));
    return [
        ...held.filter((m) => !inList.has(m.digest)).map((m) => `the index holds ${m.platform} ${m.digest}, which its provenance does not list`),
        ...listed.filter((m) => !inIndex.has(m.digest)).map((m) => `its provenance lists ${m.platform} ${m.digest}, which the index does not hold`),
    ];
}

/** What the building stack recorded for a build its host attests (an entry of `SupplyChain.attestedBy`). */
export interface AttestedBuildView {
    /** buildx builder name of the host that attests it. Required. */
    readonly builder: string;
    /** The per-platform manifest digest, the attestations' subject. Required. */
    readonly digest: string;
    /** sha256 (hex) of the Dockerfile the build was given. Required. */
    readonly dockerfileSha256: string;
    /** The build args the stack passed (credential-like names left out). Required. */
    readonly buildArgs: Readonly<Record<string, string>>;
    /** The target stage, `""` for the last. Required. */
    readonly target: string;
}

/** The parts of BuildKit's own SLSA v1 predicate (as a host's attestor signs it) the checks read. */
interface BuildKitPredicateView {
    readonly buildDefinition?: { readonly externalParameters?: { readonly request?: { readonly args?: Readonly<Record<string, string>> } } };
    readonly runDetails?: {
        readonly builder?: { readonly id?: string };
        readonly metadata?: { readonly buildkit_metadata?: { readonly source?: { readonly infos?: readonly { readonly data?: string }[] } } };
    };
}

/**
 * Problems with a provenance a builder's host signed (BuildKit's record of
 * the build, `builder.id` set by the host's attestor) against what the
 * building stack recorded for that build: its subject, the attestor's
 * builder, the Dockerfile's sha256, every build arg the stack passed, and the
 * target. Empty when it matches. The key that signed it is checked by cosign
 * before this runs; this is about which build it describes.
 */
export function checkBuilderProvenance(s: ProvenanceStatement, expected: AttestedBuildView): string[] {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { createHash } = require("crypto") as typeof import("crypto");
    const problems: string[] = [];
    const p = s.predicate as unknown as BuildKitPredicateView;
    if (s.predicateType !== "https://slsa.dev/provenance/v1") {
        problems.push(`predicate type is ${JSON.stringify(s.predicateType)}, expected https://slsa.dev/provenance/v1`);
    }
    if (!s.subjectDigests.includes(expected.digest)) {
        problems.push(`its subject is ${s.subjectDigests.join(", ") || "(none)"}, not ${expected.digest}`);
    }
    const id = String(p?.runDetails?.builder?.id ?? "");
    if (!/^https:\/\/imagefleet\.dev\/attestor\/v1\//.test(id) || !id.endsWith(`/${expected.builder}`)) {
        problems.push(`builder.id is ${JSON.stringify(id)}, expected the attestor of ${JSON.stringify(expected.builder)} (https://imagefleet.dev/attestor/v1/<host>/${expected.builder})`);
    }
    const data = p?.runDetails?.metadata?.buildkit_metadata?.source?.infos?.[0]?.data;
    const dockerfile = typeof data === "string" ? createHash("sha256").update(Buffer.from(data, "base64")).digest("hex") : undefined;
    if (dockerfile !== expected.dockerfileSha256) {
        problems.push(`the Dockerfile it records has sha256 ${dockerfile ?? "(none)"}, but the building stack built one with ${expected.dockerfileSha256}`);
    }
    const args = p?.buildDefinition?.externalParameters?.request?.args ?? {};
    for (const [name, value] of Object.entries(expected.buildArgs).sort(([a], [b]) => (a < b ? -1 : 1))) {
        const got = args[`build-arg:${name}`];
        if (got !== value) {
            problems.push(`build arg ${name} is ${JSON.stringify(got ?? null)}, but the building stack passed ${JSON.stringify(value)}`);
        }
    }
    if ((args.target ?? "") !== expected.target) {
        problems.push(`target is ${JSON.stringify(args.target ?? "")}, but the building stack built ${JSON.stringify(expected.target)}`);
    }
    return problems;
}
