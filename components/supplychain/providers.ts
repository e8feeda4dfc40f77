/**
 * Dynamic providers (serialized into state by Pulumi) that shell out to the
 * real cosign and syft. One resource per digest: a per-platform manifest's
 * SBOM and provenance, or an index's signature, provenance and SBOMs, all
 * made in one create. Each resource is keyed on the digest it covers: a new
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
const IDENTITY = ["repository", "digest", "keyId"];

type Props = Record<string, unknown>;

function keyedDiff(olds: Props, news: Props): pulumi.dynamic.DiffResult {
    const replaces = IDENTITY.filter((k) => news[k] !== undefined && olds[k] !== news[k]);
    return { changes: replaces.length > 0, replaces, deleteBeforeReplace: false };
}

function fail(what: string, r: { stderr: string; stdout: string }): never {
    throw new Error(`${what} failed:\n${tail({ ...r, code: 1, files: {} }, 12)}`);
}

/**
 * Runs one step of an attestation resource's create, naming the subject and
 * the step if it fails. A create is retried as a whole on the next `pulumi
 * up`, so every step is one that may be repeated: cosign sign and attest
 * add another bundle, and verification accepts several that agree.
 */
async function step<T>(ref: string, name: string, steps: readonly string[], run: () => Promise<T>): Promise<T> {
    try {
        return await run();
    } catch (e) {
        const done = steps.slice(0, steps.indexOf(name));
        throw new Error(`${ref}: step "${name}" failed${done.length > 0 ? ` (done before it: ${done.join(", ")}; the next pulumi up repeats every step)` : ""}: ${(e as Error).message}`, { cause: e });
    }
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

/** Inputs of a per-platform manifest's attestations (SBOM and provenance). */
export interface PlatformAttestationInputs {
    repository: string;
    digest: string;
    platform: string;
    keyId: string;
    signing: SigningMaterial;
    registry?: RegistryAuth;
    /** What the provenance states about the build. */
    build: Omit<ImageBuildInfo, "digest" | "builderEndpoint" | "buildkitVersion" | "invokedOn" | "createdOn" | "dependencies"> & {
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

/** The steps of a per-platform manifest's create, in order. */
const PLATFORM_STEPS = ["sbom", "provenance"];

/**
 * Everything attested on one per-platform manifest, in one create: its SPDX
 * SBOM (syft, then `cosign attest --type spdxjson`) and its SLSA v1
 * provenance (`cosign attest --type slsaprovenance1`).
 */
export const platformAttestationProvider: DynamicProvider = {
    async create(inputs: PlatformAttestationInputs) {
        const os = require("os") as typeof import("os");
        const crypto = require("crypto") as typeof import("crypto");
        const ref = `${inputs.repository}@${inputs.digest}`;
        const sbom = await step(ref, "sbom", PLATFORM_STEPS, async () => {
            const r = await runTool("syft", ["scan", `registry:${ref}`, "--platform", inputs.platform, "-q", "-o", "spdx-json={dir}/sbom.spdx.json"],
                { registry: inputs.registry, read: ["sbom.spdx.json"] });
            const text = r.files["sbom.spdx.json"];
            if (r.code !== 0 || !text) {
                fail(`syft scan ${ref}`, r);
            }
            await attest(inputs, "spdxjson", text);
            const doc = JSON.parse(text) as { packages?: { name?: string }[] };
            return { packageCount: (doc.packages ?? []).length, sbomSha256: crypto.createHash("sha256").update(text).digest("hex") };
        });
        const predicate = await step(ref, "provenance", PLATFORM_STEPS, async () => {
            const build = inputs.build;
            const { endpoint, version, hostname } = await builderEndpoint(build.builder);
            const info: ImageBuildInfo = {
                ...build, digest: inputs.digest, builderEndpoint: endpoint, buildkitVersion: version, builderHostname: hostname,
                dependencies: await dependenciesOf(build, inputs.platform, inputs.registry), invokedOn: os.hostname(), createdOn: new Date().toISOString(),
            };
            const p = imageProvenance(info);
            await attest(inputs, "slsaprovenance1", JSON.stringify(p));
            return p;
        });
        return {
            id: `${inputs.digest}-attestations`,
            outs: { repository: inputs.repository, digest: inputs.digest, platform: inputs.platform, keyId: inputs.keyId,
                predicate, ...sbom },
        };
    },
    async diff(_id: string, olds: Props, news: Props) {
        return keyedDiff(olds, news);
    },
};

/** Inputs of an index's signature, provenance and SBOMs. */
export interface IndexAttestationInputs {
    repository: string;
    digest: string;
    keyId: string;
    signing: SigningMaterial;
    /** Public key, to read back the platforms' verified SBOMs; a KMS key verifies by `signing.keyRef`. */
    publicKey?: string;
    registry?: RegistryAuth;
    image: string;
    variant: string;
    source: SourceInfo;
    /** Per platform: the per-platform manifest's digest and builder name. */
    members: Record<string, { digest: string; builder: string; attested?: boolean }>;
}

/** The steps of an index's create, in order. */
const INDEX_STEPS = ["signature", "provenance", "sbom"];

/**
 * Everything on one index, in one create: a cosign signature, a SLSA v1
 * provenance naming its platforms, and each platform's SBOM, read back
 * verified from that platform's attestation and attested again on the index.
 */
export const indexAttestationProvider: DynamicProvider = {
    async create(inputs: IndexAttestationInputs) {
        const os = require("os") as typeof import("os");
        const ref = `${inputs.repository}@${inputs.digest}`;
        const platforms = Object.keys(inputs.members).sort();
        await step(ref, "signature", INDEX_STEPS, async () => {
            const r = await withSubjectLock(ref, () => runTool("cosign", ["sign", ...COSIGN_SIGN_FLAGS, "{key}", ref], { signing: inputs.signing, registry: inputs.registry }));
            if (r.code !== 0) {
                fail(`cosign sign ${ref}`, r);
            }
        });
        const predicate = await step(ref, "provenance", INDEX_STEPS, async () => {
            const info: IndexBuildInfo = {
                image: inputs.image, variant: inputs.variant, repository: inputs.repository, digest: inputs.digest, source: inputs.source,
                members: platforms.map((platform) => ({ platform, digest: inputs.members[platform].digest })),
                builders: Object.fromEntries(platforms.map((p) => [p, inputs.members[p].builder])),
                invokedOn: os.hostname(), createdOn: new Date().toISOString(),
            };
            const p = indexProvenance(info);
            await attest(inputs, "slsaprovenance1", JSON.stringify(p));
            return p;
        });
        await step(ref, "sbom", INDEX_STEPS, async () => {
            const verifying = inputs.signing.keyRef ? { keyRef: inputs.signing.keyRef } : { publicKey: inputs.publicKey };
            // A member its host attests has its SBOM there, signed by the host, after this run.
            for (const platform of platforms.filter((p) => !inputs.members[p].attested)) {
                const member = `${inputs.repository}@${inputs.members[platform].digest}`;
                const r = await runTool("cosign", ["verify-attestation", ...COSIGN_VERIFY_FLAGS, "{key}", "--type", "spdxjson", member], { verifying, registry: inputs.registry });
                const sbom = r.code === 0 ? statementsOf(r.stdout).find((s) => s.predicateType === SPDX_PREDICATE) : undefined;
                if (!sbom) {
                    fail(`reading the verified SBOM of ${member}`, r);
                }
                await attest(inputs, "spdxjson", JSON.stringify(sbom.predicate));
            }
        });
        return {
            id: `${inputs.digest}-index`,
            outs: { repository: inputs.repository, digest: inputs.digest, keyId: inputs.keyId, predicate, platforms },
        };
    },
    async diff(_id: string, olds: Props, news: Props) {
        return keyedDiff(olds, news);
    },
};
