/**
 * Dynamic providers (serialized into state by Pulumi) that shell out to the
 * real cosign and syft. Each resource is keyed on the digest it covers: a new
 * digest replaces it (attest again), anything else (a new commit that
 * republished the same digest, a provider code change) is no change, so the
 * statement recorded when the digest was first built is the one that stays.
 * Nothing is deleted from the registry on delete: like the images
 * (retainOnDelete), attestations outlive their resources.
 */
import type * as pulumi from "@pulumi/pulumi";
import type { Dependency, ImageBuildInfo, IndexBuildInfo, SourceInfo } from "./provenance";
import * as provenance from "./provenance";
import * as checks from "./checks";
import type { RegistryAuth, SigningMaterial } from "./tools";
import * as tools from "./tools";

// The providers capture these functions and values, never the modules: a
// captured module inside node_modules is serialized as
// `require("imagefleet/dist/…")`, which the package's exports refuse.
const { baseImages, imageProvenance, indexProvenance, SPDX_PREDICATE } = provenance;
const { statementsOf } = checks;
const { COSIGN_SIGN_FLAGS, COSIGN_VERIFY_FLAGS, runTool, tail, withSubjectLock } = tools;

type DynamicProvider = pulumi.dynamic.ResourceProvider;

/** Inputs that identify what a statement covers; any other change is not a change. */
const IDENTITY = ["kind", "repository", "digest", "keyId"];

type Props = Record<string, unknown>;

function keyedDiff(olds: Props, news: Props): pulumi.dynamic.DiffResult {
    const replaces = IDENTITY.filter((k) => news[k] !== undefined && olds[k] !== news[k]);
    return { changes: replaces.length > 0, replaces, deleteBeforeReplace: false };
}

function fail(what: string, r: { stderr: string; stdout: string }): never {
    throw new Error(`${what} failed:\n${tail({ ...r, code: 1, files: {} }, 12)}`);
}

/** A cosign key pair for the local stack; private key and password are secret outputs. */
export const keyPairProvider: DynamicProvider = {
    async create() {
        const crypto = require("crypto") as typeof import("crypto");
        const password = crypto.randomBytes(24).toString("base64url");
        const r = await runTool("cosign", ["generate-key-pair", "--output-key-prefix", "{dir}/cosign"], { env: { COSIGN_PASSWORD: password }, read: ["cosign.key", "cosign.pub"] });
        if (r.code !== 0 || !r.files["cosign.key"] || !r.files["cosign.pub"]) {
            fail("cosign generate-key-pair", r);
        }
        const publicKey = r.files["cosign.pub"];
        const keyId = crypto.createHash("sha256").update(publicKey).digest("hex").slice(0, 16);
        return { id: keyId, outs: { keyId, publicKey, privateKey: r.files["cosign.key"], password } };
    },
    async diff() {
        return { changes: false };
    },
};

/** Inputs of a per-platform SBOM or provenance attestation. */
export interface PlatformAttestationInputs {
    kind: "sbom" | "provenance";
    repository: string;
    digest: string;
    platform: string;
    keyId: string;
    signing: SigningMaterial;
    registry?: RegistryAuth;
    /** provenance only */
    build?: Omit<ImageBuildInfo, "digest" | "builderEndpoint" | "buildkitVersion" | "invokedOn" | "createdOn" | "dependencies"> & {
        dockerfileText: string;
        familyContexts: Record<string, string>;
    };
}

/** What buildx says about a builder's (first) node: its endpoint, BuildKit version and the worker's hostname. */
async function builderEndpoint(name: string): Promise<{ endpoint: string; version?: string; hostname?: string }> {
    const r = await runTool("docker", ["buildx", "inspect", name], { timeoutMs: 60_000 });
    const endpoint = /^\s*Endpoint:\s*(\S+)/m.exec(r.stdout)?.[1];
    const version = /^\s*BuildKit version:\s*(\S+)/m.exec(r.stdout)?.[1];
    const hostname = /org\.mobyproject\.buildkit\.worker\.hostname:\s*(\S+)/.exec(r.stdout)?.[1];
    return { endpoint: endpoint ?? "unknown", version, hostname };
}

async function resolveDigest(ref: string, platform: string, registry?: RegistryAuth): Promise<string | undefined> {
    const r = await runTool("docker", ["buildx", "imagetools", "inspect", ref, "--format", "{{json .Manifest}}"], { registry });
    try {
        const m = JSON.parse(r.stdout) as { digest?: string; manifests?: { digest?: string; platform?: { os?: string; architecture?: string } }[] };
        const [os, arch] = platform.split("/");
        const child = (m.manifests ?? []).find((c) => c.platform?.os === os && c.platform?.architecture === arch);
        return child?.digest ?? m.digest;
    } catch {
        return undefined;
    }
}

async function attest(inputs: { repository: string; digest: string; signing: SigningMaterial; registry?: RegistryAuth }, type: string, predicate: string): Promise<void> {
    const subject = `${inputs.repository}@${inputs.digest}`;
    const r = await withSubjectLock(subject, () => runTool("cosign", ["attest", ...COSIGN_SIGN_FLAGS, "{key}", "--type", type, "--predicate", "{dir}/predicate.json", subject],
        { signing: inputs.signing, registry: inputs.registry, files: { "predicate.json": predicate } }));
    if (r.code !== 0) {
        fail(`cosign attest --type ${type} ${inputs.repository}@${inputs.digest}`, r);
    }
}

/** Dependencies of one build: the family images it took as contexts and the base images its Dockerfile pulls. */
export async function dependenciesOf(build: NonNullable<PlatformAttestationInputs["build"]>, platform: string, registry?: RegistryAuth): Promise<Dependency[]> {
    const family = Object.entries(build.familyContexts).map(([name, uri]) => ({ name, uri, digest: /@(sha256:[0-9a-f]{64})$/.exec(uri)?.[1] }));
    const bases = await Promise.all(baseImages(build.dockerfileText, build.buildArgs, Object.keys(build.familyContexts))
        .map(async (ref) => ({ name: ref, uri: `docker-image://${ref}`, digest: await resolveDigest(ref, platform, registry) })));
    return [...family, ...bases];
}

/** SBOM (syft, SPDX JSON) or SLSA v1 provenance of one per-platform manifest, attested with cosign. */
export const platformAttestationProvider: DynamicProvider = {
    async create(inputs: PlatformAttestationInputs) {
        const os = require("os") as typeof import("os");
        const ref = `${inputs.repository}@${inputs.digest}`;
        if (inputs.kind === "sbom") {
            const r = await runTool("syft", ["scan", `registry:${ref}`, "--platform", inputs.platform, "-q", "-o", "spdx-json={dir}/sbom.spdx.json"],
                { registry: inputs.registry, read: ["sbom.spdx.json"] });
            const sbom = r.files["sbom.spdx.json"];
            if (r.code !== 0 || !sbom) {
                fail(`syft scan ${ref}`, r);
            }
            await attest(inputs, "spdxjson", sbom);
            const doc = JSON.parse(sbom) as { packages?: { name?: string }[] };
            const packages = (doc.packages ?? []).map((p) => String(p.name));
            const sha = (require("crypto") as typeof import("crypto")).createHash("sha256").update(sbom).digest("hex");
            return {
                id: `${inputs.digest}-sbom`,
                outs: { kind: inputs.kind, repository: inputs.repository, digest: inputs.digest, platform: inputs.platform, keyId: inputs.keyId,
                    predicateType: SPDX_PREDICATE, packageCount: packages.length, sbomSha256: sha },
            };
        }
        const build = inputs.build!;
        const { endpoint, version, hostname } = await builderEndpoint(build.builder);
        const info: ImageBuildInfo = {
            ...build, digest: inputs.digest, builderEndpoint: endpoint, buildkitVersion: version, builderHostname: hostname,
            dependencies: await dependenciesOf(build, inputs.platform, inputs.registry), invokedOn: os.hostname(), createdOn: new Date().toISOString(),
        };
        const predicate = imageProvenance(info);
        await attest(inputs, "slsaprovenance1", JSON.stringify(predicate));
        return {
            id: `${inputs.digest}-provenance`,
            outs: { kind: inputs.kind, repository: inputs.repository, digest: inputs.digest, platform: inputs.platform, keyId: inputs.keyId, predicate },
        };
    },
    async diff(_id: string, olds: Props, news: Props) {
        return keyedDiff(olds, news);
    },
};

/** Inputs of an index's signature, provenance or SBOM set. */
export interface IndexAttestationInputs {
    kind: "signature" | "provenance" | "sbom";
    repository: string;
    digest: string;
    keyId: string;
    signing: SigningMaterial;
    /** Public key or KMS ref, to read back the platforms' verified SBOMs. */
    publicKey?: string;
    registry?: RegistryAuth;
    image: string;
    variant: string;
    source: SourceInfo;
    /** Per platform: the per-platform manifest's digest and builder name. */
    members: Record<string, { digest: string; builder: string }>;
}

/** A cosign signature on an index digest, the index's provenance, or its SBOMs (one per platform, verified then re-attested). */
export const indexAttestationProvider: DynamicProvider = {
    async create(inputs: IndexAttestationInputs) {
        const os = require("os") as typeof import("os");
        const ref = `${inputs.repository}@${inputs.digest}`;
        const outs: Record<string, unknown> = { kind: inputs.kind, repository: inputs.repository, digest: inputs.digest, keyId: inputs.keyId };
        const platforms = Object.keys(inputs.members).sort();
        if (inputs.kind === "signature") {
            const r = await withSubjectLock(ref, () => runTool("cosign", ["sign", ...COSIGN_SIGN_FLAGS, "{key}", ref], { signing: inputs.signing, registry: inputs.registry }));
            if (r.code !== 0) {
                fail(`cosign sign ${ref}`, r);
            }
        } else if (inputs.kind === "provenance") {
            const info: IndexBuildInfo = {
                image: inputs.image, variant: inputs.variant, repository: inputs.repository, digest: inputs.digest, source: inputs.source,
                members: platforms.map((platform) => ({ platform, digest: inputs.members[platform].digest })),
                builders: Object.fromEntries(platforms.map((p) => [p, inputs.members[p].builder])),
                invokedOn: os.hostname(), createdOn: new Date().toISOString(),
            };
            const predicate = indexProvenance(info);
            await attest(inputs, "slsaprovenance1", JSON.stringify(predicate));
            outs.predicate = predicate;
        } else {
            // The index carries each platform's SBOM, taken from that platform's attestation after verifying its signature.
            for (const platform of platforms) {
                const member = `${inputs.repository}@${inputs.members[platform].digest}`;
                const verifying = inputs.signing.keyRef ? { keyRef: inputs.signing.keyRef } : { publicKey: inputs.publicKey };
                const r = await runTool("cosign", ["verify-attestation", ...COSIGN_VERIFY_FLAGS, "{key}", "--type", "spdxjson", member], { verifying, registry: inputs.registry });
                const sbom = r.code === 0 ? statementsOf(r.stdout).find((s) => s.predicateType === SPDX_PREDICATE) : undefined;
                if (!sbom) {
                    fail(`reading the verified SBOM of ${member}`, r);
                }
                await attest(inputs, "spdxjson", JSON.stringify(sbom.predicate));
            }
            outs.platforms = platforms;
        }
        return { id: `${inputs.digest}-${inputs.kind}`, outs };
    },
    async diff(_id: string, olds: Props, news: Props) {
        return keyedDiff(olds, news);
    },
};
