/**
 * A tag copy inside one repository with the registry's own HTTP API: GET the
 * manifest by digest, check its bytes hash to that digest, PUT the same bytes
 * under each tag. Two requests, where `docker buildx imagetools create` costs
 * a docker and a buildx process (~0.35 CPU seconds each, most of a wide
 * family's no-change commit on 2 cores).
 *
 * Why our own: no well-kept JavaScript client of the distribution API writes
 * manifests (@snyk/docker-registry-v2-client only reads; joyent's
 * docker-registry-client is unmaintained), and a copy needs only these two
 * requests and the token handshake of the distribution spec. What it does not
 * cover it reports as `fallback`, and the caller runs imagetools instead: a
 * credential helper or identity token, a certificate only the system store
 * holds, a registry served over plain HTTP, a reference outside one
 * repository. A body that does not hash to its digest is refused, never
 * retried another way.
 */
import type * as http from "http";
import type { RegistryAuth } from "../supplychain/tools";

export type CopyResult = { readonly ok: true } | { readonly ok: false; readonly fallback: boolean; readonly why: string };

interface Ref {
    readonly host: string;
    readonly repo: string;
    readonly ref: string;
}

const ACCEPT = [
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
].join(", ");

/** `host/repo@sha256:…` or `host/repo:tag`; undefined for Docker Hub's short names (imagetools knows them). */
export function parseRef(s: string): Ref | undefined {
    const slash = s.indexOf("/");
    const host = s.slice(0, slash);
    if (slash < 0 || !(host.includes(".") || host.includes(":") || host === "localhost")) {
        return undefined;
    }
    const rest = s.slice(slash + 1);
    const at = rest.indexOf("@");
    const colon = at >= 0 ? at : rest.lastIndexOf(":");
    if (colon <= 0 || rest.slice(0, colon).includes(":")) {
        return undefined;
    }
    return { host, repo: rest.slice(0, colon), ref: rest.slice(colon + 1) };
}

interface Reply {
    readonly status: number;
    readonly headers: http.IncomingHttpHeaders;
    readonly body: Buffer;
}

/** Trust: Node's roots plus docker's per-registry CAs (`/etc/docker/certs.d/<host>/*.crt`) and SSL_CERT_FILE. */
function trustFor(host: string): string[] | undefined {
    const fs = require("fs") as typeof import("fs");
    const path = require("path") as typeof import("path");
    const tls = require("tls") as typeof import("tls");
    const dir = path.join(process.env.IMAGEFLEET_DOCKER_CERTS_DIR ?? "/etc/docker/certs.d", host);
    const extra = (fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith(".crt")).map((f) => path.join(dir, f)) : [])
        .concat(process.env.SSL_CERT_FILE && fs.existsSync(process.env.SSL_CERT_FILE) ? [process.env.SSL_CERT_FILE] : [])
        .map((f) => fs.readFileSync(f, "utf8"));
    return extra.length === 0 ? undefined : [...tls.rootCertificates, ...extra];
}

/** Basic credentials for a host: the given ones, else the docker config's `auths` entry. */
function credentialsFor(host: string, auth?: RegistryAuth): string | undefined {
    if (auth?.password && auth.address === host) {
        return Buffer.from(`${auth.username ?? ""}:${auth.password}`).toString("base64");
    }
    const fs = require("fs") as typeof import("fs");
    const os = require("os") as typeof import("os");
    const path = require("path") as typeof import("path");
    const file = path.join(process.env.DOCKER_CONFIG || path.join(os.homedir(), ".docker"), "config.json");
    try {
        const entry = JSON.parse(fs.readFileSync(file, "utf8")).auths?.[host];
        return typeof entry?.auth === "string" && entry.auth !== "" ? entry.auth : undefined;
    } catch {
        return undefined;
    }
}

/** One repository's session over a host's agent: the authorization the registry asked for. */
function session(host: string, repo: string, auth: RegistryAuth | undefined, agent: import("https").Agent) {
    const https = require("https") as typeof import("https");
    let authorization: string | undefined;

    const send = (method: string, url: string, headers: Record<string, string>, body?: Buffer) => new Promise<Reply>((resolve, reject) => {
        const req = https.request(url, { method, agent, headers: { ...headers, ...(body ? { "Content-Length": String(body.length) } : {}) }, timeout: 60_000 }, (res) => {
            const chunks: Buffer[] = [];
            res.on("data", (c: Buffer) => chunks.push(c));
            res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
            res.on("error", reject);
        });
        req.on("timeout", () => req.destroy(new Error(`${method} ${url}: no answer in 60 s`)));
        req.on("error", reject);
        req.end(body);
    });

    /** Answers a 401's challenge; returns why not when it cannot. */
    const authenticate = async (challenge: string | undefined): Promise<string | undefined> => {
        const basic = credentialsFor(host, auth);
        if (/^Basic/i.test(challenge ?? "")) {
            authorization = basic ? `Basic ${basic}` : undefined;
            return basic ? undefined : "the registry asks for credentials that are not in the docker config's auths";
        }
        const params = Object.fromEntries([...(challenge ?? "").matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
        if (!/^Bearer/i.test(challenge ?? "") || !params.realm) {
            return `an authentication challenge this client does not answer: ${challenge ?? "(none)"}`;
        }
        const url = new URL(params.realm);
        if (params.service) {
            url.searchParams.set("service", params.service);
        }
        url.searchParams.set("scope", `repository:${repo}:pull,push`);
        const r = await send("GET", url.toString(), basic ? { Authorization: `Basic ${basic}` } : {});
        const token = r.status === 200 ? JSON.parse(r.body.toString("utf8")) : undefined;
        authorization = token?.token || token?.access_token ? `Bearer ${token.token || token.access_token}` : undefined;
        return authorization ? undefined : `the token service answered HTTP ${r.status}`;
    };

    const call = async (method: string, reference: string, headers: Record<string, string>, body?: Buffer): Promise<Reply> => {
        const url = `https://${host}/v2/${repo}/manifests/${reference}`;
        const r = await send(method, url, { ...headers, ...(authorization ? { Authorization: authorization } : {}) }, body);
        if (r.status !== 401) {
            return r;
        }
        const why = await authenticate(r.headers["www-authenticate"]);
        if (why) {
            throw Object.assign(new Error(why), { fallback: true });
        }
        return send(method, url, { ...headers, Authorization: authorization! }, body);
    };

    return { call };
}

/**
 * A copier for one batch of copies: one keep-alive agent per registry host
 * (its trust store is built once: a TLS context of Node's ~140 roots costs
 * tens of milliseconds of CPU). Close it when the batch is done.
 */
export function manifestCopier(auth?: RegistryAuth, sockets = 8) {
    const https = require("https") as typeof import("https");
    const agents = new Map<string, import("https").Agent>();
    const agentFor = (host: string) => {
        if (!agents.has(host)) {
            agents.set(host, new https.Agent({ keepAlive: true, maxSockets: sockets, ca: trustFor(host) }));
        }
        return agents.get(host)!;
    };
    return {
        copy: (source: string, targets: readonly string[]) => copyManifest(source, targets, auth, agentFor),
        close: () => agents.forEach((a) => a.destroy()),
    };
}

/**
 * Points every target tag at `source`'s manifest, in its repository.
 * `fallback: true` means another client may still succeed.
 */
async function copyManifest(source: string, targets: readonly string[], auth: RegistryAuth | undefined, agentFor: (host: string) => import("https").Agent): Promise<CopyResult> {
    const crypto = require("crypto") as typeof import("crypto");
    const from = parseRef(source);
    const to = targets.map(parseRef);
    if (!from || !/^sha256:[0-9a-f]{64}$/.test(from.ref) || to.some((t) => !t || t.host !== from.host || t.repo !== from.repo || t.ref.startsWith("sha256:"))) {
        return { ok: false, fallback: true, why: "not a copy by digest to tags of the same repository" };
    }
    const s = session(from.host, from.repo, auth, agentFor(from.host));
    try {
        const got = await s.call("GET", from.ref, { Accept: ACCEPT });
        if (got.status !== 200) {
            return { ok: false, fallback: true, why: `GET ${source}: HTTP ${got.status}` };
        }
        const digest = `sha256:${crypto.createHash("sha256").update(got.body).digest("hex")}`;
        if (digest !== from.ref) {
            return { ok: false, fallback: false, why: `the registry served ${digest} for ${source}` };
        }
        const type = String(got.headers["content-type"] ?? "").split(";")[0];
        const puts = await Promise.all(to.map((t) => s.call("PUT", t!.ref, { "Content-Type": type }, got.body)));
        const bad = puts.map((r, i) => ({ r, t: targets[i] })).filter(({ r }) => r.status < 200 || r.status > 299
            || (r.headers["docker-content-digest"] !== undefined && r.headers["docker-content-digest"] !== from.ref));
        if (bad.length > 0) {
            return { ok: false, fallback: true, why: bad.map(({ r, t }) => `PUT ${t}: HTTP ${r.status} ${r.body.toString("utf8").slice(0, 200)}`).join("; ") };
        }
        return { ok: true };
    } catch (e) {
        return { ok: false, fallback: true, why: (e as Error).message };
    }
}
