// What an attacker (or an insider holding the signing key) can do to a
// registry, for the tamper matrix: read and write manifests and tags over the
// registry's HTTP API, sign and attest with a key of the test's choosing, and
// make new digests from a genuine image's parts. Nothing here goes through
// imagefleet: the point is to hand the promotion what an attacker would.
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { must, Run, sh } from "./support";

export const OCI_INDEX = "application/vnd.oci.image.index.v1+json";
const ACCEPT = [
    OCI_INDEX, "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json", "application/vnd.docker.distribution.manifest.v2+json",
].join(", ");
/** The annotation cosign v3 puts on a bundle's referrer manifest. */
const BUNDLE_PREDICATE = "dev.sigstore.bundle.predicateType";
export const SIGNATURE = "https://sigstore.dev/cosign/sign/v1";
export const SLSA = "https://slsa.dev/provenance/v1";
export const SPDX = "https://spdx.dev/Document";

export interface Descriptor {
    mediaType: string;
    digest: string;
    size: number;
    platform?: { os: string; architecture: string; variant?: string };
    artifactType?: string;
    annotations?: Record<string, string>;
}

export interface Manifest {
    readonly status: number;
    readonly digest?: string;
    readonly mediaType?: string;
    /** The bytes as served (what the digest is over). */
    readonly raw?: string;
    readonly body?: any;
}

const sha256 = (text: string) => `sha256:${crypto.createHash("sha256").update(text).digest("hex")}`;

/** `sha256-<hex>`: the OCI referrers tag schema, where a registry without the referrers API keeps a digest's referrers. */
export const fallbackTag = (digest: string) => digest.replace(":", "-");

/** One registry's HTTP API, as any client with push rights sees it. */
export class RegistryClient {
    constructor(readonly host: string) {}

    /** `host/repo@digest`. */
    ref(repo: string, digest: string): string {
        return `${this.host}/${repo}@${digest}`;
    }

    async get(repo: string, reference: string): Promise<Manifest> {
        const res = await fetch(`https://${this.host}/v2/${repo}/manifests/${reference}`, { headers: { Accept: ACCEPT } });
        if (res.status !== 200) {
            return { status: res.status };
        }
        const raw = await res.text();
        return { status: 200, digest: res.headers.get("docker-content-digest") ?? sha256(raw), mediaType: res.headers.get("content-type") ?? undefined, raw, body: JSON.parse(raw) };
    }

    /** PUT a manifest under a tag or its own digest; the digest it has. */
    async put(repo: string, reference: string | undefined, body: unknown, mediaType: string): Promise<Descriptor> {
        const raw = typeof body === "string" ? body : JSON.stringify(body);
        const digest = sha256(raw);
        const res = await fetch(`https://${this.host}/v2/${repo}/manifests/${reference ?? digest}`, {
            method: "PUT", headers: { "Content-Type": mediaType }, body: raw,
        });
        if (res.status !== 201) {
            throw new Error(`PUT ${this.host}/${repo}:${reference ?? digest} answered ${res.status}: ${await res.text()}`);
        }
        return { mediaType, digest, size: Buffer.byteLength(raw) };
    }

    async delete(repo: string, reference: string): Promise<number> {
        return (await fetch(`https://${this.host}/v2/${repo}/manifests/${reference}`, { method: "DELETE" })).status;
    }

    async tags(repo: string): Promise<string[]> {
        const res = await fetch(`https://${this.host}/v2/${repo}/tags/list`);
        return res.status === 200 ? ((await res.json()) as { tags?: string[] }).tags ?? [] : [];
    }

    /** `GET /v2/<repo>/referrers/<digest>`: the index when the registry has the OCI 1.1 API, else the status. */
    async referrersApi(repo: string, digest: string): Promise<{ status: number; manifests?: Descriptor[] }> {
        const res = await fetch(`https://${this.host}/v2/${repo}/referrers/${digest}`, { headers: { Accept: OCI_INDEX } });
        return res.status === 200 ? { status: 200, manifests: ((await res.json()) as { manifests?: Descriptor[] }).manifests ?? [] } : { status: res.status };
    }

    /** A digest's referrers wherever the registry keeps them: its referrers API, or the fallback tag's index. */
    async referrers(repo: string, digest: string): Promise<{ api: boolean; manifests: Descriptor[] }> {
        const api = await this.referrersApi(repo, digest);
        if (api.manifests) {
            return { api: true, manifests: api.manifests };
        }
        const tagged = await this.get(repo, fallbackTag(digest));
        return { api: false, manifests: tagged.status === 200 ? tagged.body.manifests ?? [] : [] };
    }

    /** The referrer manifest of `digest` that carries a bundle of `predicateType` (a signature is `SIGNATURE`). */
    async bundle(repo: string, digest: string, predicateType: string): Promise<Descriptor & { body: any }> {
        for (const d of (await this.referrers(repo, digest)).manifests) {
            const m = await this.get(repo, d.digest);
            if (m.body?.annotations?.[BUNDLE_PREDICATE] === predicateType) {
                return { ...d, body: m.body };
            }
        }
        throw new Error(`${this.host}/${repo}@${digest} has no referrer with a ${predicateType} bundle`);
    }

    /**
     * Makes a manifest with a new digest from an existing one: the same
     * content plus an annotation (an attacker's rebuild, for the checks: any
     * change gives a new digest). `changes` may replace the manifest's entries.
     */
    async variantOf(repo: string, digest: string, label: string, changes: Record<string, unknown> = {}): Promise<Descriptor> {
        const m = await this.get(repo, digest);
        if (m.status !== 200) {
            throw new Error(`${this.host}/${repo}@${digest} answered ${m.status}`);
        }
        const body = { ...m.body, ...changes, annotations: { ...m.body.annotations, "org.example.forgery": label } };
        return this.put(repo, undefined, body, m.mediaType!);
    }

    /**
     * Copies `from`'s referrer of `predicateType` to `to`: the same signed
     * bundle, its manifest's subject rewritten. The signed statement inside
     * still names `from`. Without the referrers API the copy is also added to
     * `to`'s fallback tag, as a client would.
     */
    async copyReferrer(repo: string, from: string, to: Descriptor, predicateType: string): Promise<void> {
        const src = await this.bundle(repo, from, predicateType);
        const copy = await this.put(repo, undefined, { ...src.body, subject: { mediaType: to.mediaType, digest: to.digest, size: to.size } }, src.mediaType);
        const { api, manifests } = await this.referrers(repo, to.digest);
        if (!api) {
            const entry = { ...src, body: undefined, digest: copy.digest, size: copy.size };
            await this.put(repo, fallbackTag(to.digest), { schemaVersion: 2, mediaType: OCI_INDEX, manifests: [...manifests, entry] }, OCI_INDEX);
        }
    }

    /** Points `tag` at the manifest `digest` (the registry's only notion of moving a tag). */
    async moveTag(repo: string, tag: string, digest: string): Promise<void> {
        const m = await this.get(repo, digest);
        await this.put(repo, tag, m.raw!, m.mediaType!);
    }
}

/** A cosign key pair on disk: the stack's (read from its state) or one the test generates. */
export interface CosignKey {
    readonly file: string;
    readonly password: string;
    readonly publicKey: string;
}

/** A fresh key pair, as an attacker would make one. */
export function generateKey(dir: string, name: string): CosignKey {
    const prefix = path.join(dir, name);
    const password = crypto.randomBytes(12).toString("hex");
    must("cosign", ["generate-key-pair", "--output-key-prefix", prefix], { env: { COSIGN_PASSWORD: password } });
    return { file: `${prefix}.key`, password, publicKey: fs.readFileSync(`${prefix}.pub`, "utf8") };
}

/** The key given as PEM text (e.g. a stack's, from `pulumi stack output --show-secrets`). */
export function keyFrom(dir: string, name: string, privateKey: string, password: string, publicKey: string): CosignKey {
    const file = path.join(dir, `${name}.key`);
    fs.writeFileSync(file, privateKey, { mode: 0o600 });
    return { file, password, publicKey };
}

const SIGN_FLAGS = ["--yes", "--tlog-upload=false", "--use-signing-config=false"];

export function cosign(key: CosignKey | undefined, args: readonly string[]): Run {
    return sh("cosign", args, { env: key ? { COSIGN_PASSWORD: key.password } : {} });
}

export function sign(key: CosignKey, ref: string): void {
    const r = cosign(key, ["sign", ...SIGN_FLAGS, "--key", key.file, ref]);
    if (r.code !== 0) {
        throw new Error(`cosign sign ${ref}: ${r.stderr.slice(-2000)}`);
    }
}

export function attest(key: CosignKey, ref: string, type: "slsaprovenance1" | "spdxjson", predicate: unknown): void {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "imagefleet-predicate-")), "predicate.json");
    fs.writeFileSync(file, JSON.stringify(predicate));
    const r = cosign(key, ["attest", ...SIGN_FLAGS, "--key", key.file, "--type", type, "--predicate", file, ref]);
    fs.rmSync(path.dirname(file), { recursive: true, force: true });
    if (r.code !== 0) {
        throw new Error(`cosign attest --type ${type} ${ref}: ${r.stderr.slice(-2000)}`);
    }
}

/** The predicates `cosign verify-attestation` verified for `ref` with `key`, of one type. */
export function verifiedPredicates(key: CosignKey, ref: string, type: "slsaprovenance1" | "spdxjson"): any[] {
    const pub = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "imagefleet-pub-")), "cosign.pub");
    fs.writeFileSync(pub, key.publicKey);
    const r = cosign(undefined, ["verify-attestation", "--key", pub, "--insecure-ignore-tlog=true", "--type", type, ref]);
    fs.rmSync(path.dirname(pub), { recursive: true, force: true });
    if (r.code !== 0) {
        throw new Error(`cosign verify-attestation --type ${type} ${ref}: ${r.stderr.slice(-2000)}`);
    }
    return r.stdout.split("\n").filter((l) => l.startsWith("{"))
        .map((l) => JSON.parse(Buffer.from(JSON.parse(l).payload, "base64").toString("utf8")).predicate);
}

/** What a forged index is made of; every part is optional, so each case leaves out or spoils one. */
export interface Forgery {
    /** Named in the new digests' annotation (and so in their digests). */
    readonly label: string;
    /** Sign the index with this key. Default: unsigned. */
    readonly sign?: CosignKey;
    /** Attest the index's provenance with this key; `edit` may change the predicate. Default: none. */
    readonly provenance?: { readonly key: CosignKey; readonly edit?: (p: any) => void };
    /** Attest an SBOM (the genuine image's first) with this key. Default: none. */
    readonly sbom?: CosignKey;
    /**
     * Replace the arm64 member by a new manifest (an attacker's rebuild) with
     * these provenances, each attested with `key` (`edit` changes a copy of the
     * genuine arm64 provenance). Default: the genuine arm64 member.
     */
    readonly arm64?: { readonly key: CosignKey; readonly provenances: readonly ((p: any) => void)[] };
    /** The index provenance lists the genuine members even where the index holds others. Default: it lists what the index holds. */
    readonly listGenuineMembers?: boolean;
}

/**
 * Makes new digests from one genuine, signed index: the same image, another
 * digest, with whichever records a case calls for. A forgery that carries
 * every record from the genuine key (`complete`) is what the promotion must
 * accept; each tamper case spoils one part of it.
 */
export class Forger {
    private constructor(
        readonly registry: RegistryClient,
        readonly repo: string,
        readonly genuine: { readonly digest: string; readonly index: Manifest; readonly provenance: any; readonly sbom: any; readonly arm64Provenance: any },
    ) {}

    static async load(registry: RegistryClient, repo: string, digest: string, key: CosignKey): Promise<Forger> {
        const index = await registry.get(repo, digest);
        const arm64 = (index.body.manifests as Descriptor[]).find((m) => m.platform?.architecture === "arm64")!;
        return new Forger(registry, repo, {
            digest, index,
            provenance: verifiedPredicates(key, registry.ref(repo, digest), "slsaprovenance1")[0],
            sbom: verifiedPredicates(key, registry.ref(repo, digest), "spdxjson")[0],
            arm64Provenance: verifiedPredicates(key, registry.ref(repo, arm64.digest), "slsaprovenance1")[0],
        });
    }

    /** Every record from `key`, as SupplyChain would have made them. */
    complete(label: string, key: CosignKey): Forgery {
        return { label, sign: key, provenance: { key }, sbom: key };
    }

    async forge(f: Forgery): Promise<Descriptor> {
        const { registry, repo, genuine } = this;
        const held: Descriptor[] = structuredClone(genuine.index.body.manifests);
        const arm64 = held.findIndex((m) => m.platform?.architecture === "arm64");
        if (f.arm64) {
            const rebuilt = await registry.variantOf(repo, held[arm64].digest, f.label);
            held[arm64] = { ...held[arm64], digest: rebuilt.digest, size: rebuilt.size };
            for (const edit of f.arm64.provenances) {
                const p = structuredClone(genuine.arm64Provenance);
                edit(p);
                attest(f.arm64.key, registry.ref(repo, rebuilt.digest), "slsaprovenance1", p);
            }
        }
        const index = await registry.variantOf(repo, genuine.digest, f.label, { manifests: held });
        const ref = registry.ref(repo, index.digest);
        if (f.sign) {
            sign(f.sign, ref);
        }
        if (f.provenance) {
            const p = structuredClone(genuine.provenance);
            if (!f.listGenuineMembers) {
                // The index provenance names its members by digest among its resolved dependencies.
                for (const d of p.buildDefinition.resolvedDependencies) {
                    const m = held.find((h) => d.name === `${h.platform!.os}/${h.platform!.architecture}`);
                    if (m && d.digest?.sha256) {
                        d.uri = `docker-image://${registry.host}/${repo}@${m.digest}`;
                        d.digest = { sha256: m.digest.slice(7) };
                    }
                }
            }
            f.provenance.edit?.(p);
            attest(f.provenance.key, ref, "slsaprovenance1", p);
        }
        if (f.sbom) {
            attest(f.sbom, ref, "spdxjson", genuine.sbom);
        }
        return index;
    }
}
