// The TagSet's own registry client (issue 23): a tag copy is a GET by digest
// and a PUT per tag. Against a real HTTPS server in this process, speaking
// the distribution API's manifest and token endpoints, with a CA the way
// docker trusts one (certs.d/<host>/ca.crt); a stand-in docker records any
// fallback to imagetools.
import { strict as assert } from "assert";
import * as crypto from "crypto";
import * as cp from "child_process";
import * as fs from "fs";
import * as https from "https";
import * as os from "os";
import * as path from "path";
import { AddressInfo } from "net";
import { parseRef } from "../../components/images/manifestCopy";
import { tagSetProvider } from "../../components/images/tagSet";

const INDEX = "application/vnd.oci.image.index.v1+json";

describe("TagSet's registry client: a tag copy in two requests", function () {
    this.timeout(30_000);
    let dir = "";
    let host = "";
    let server: https.Server;
    const manifests = new Map<string, { body: Buffer; type: string }>();
    const requests: string[] = [];
    let mode: "open" | "bearer" | "basic" | "tamper" = "open";
    let dockerCalls = "";

    const digestOf = (b: Buffer) => `sha256:${crypto.createHash("sha256").update(b).digest("hex")}`;

    before(async () => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "imagefleet-copy-"));
        const ssl = (...args: string[]) => cp.execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
        ssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca-key.pem", "-out", "ca.pem", "-days", "1", "-subj", "/CN=test-ca");
        ssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "key.pem", "-out", "server.csr", "-subj", "/CN=127.0.0.1");
        fs.writeFileSync(path.join(dir, "ext.cnf"), "subjectAltName=IP:127.0.0.1\n");
        ssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca-key.pem", "-CAcreateserial", "-days", "1", "-extfile", "ext.cnf", "-out", "cert.pem");
        server = https.createServer({ key: fs.readFileSync(path.join(dir, "key.pem")), cert: fs.readFileSync(path.join(dir, "cert.pem")) }, (req, res) => {
            const chunks: Buffer[] = [];
            req.on("data", (c: Buffer) => chunks.push(c));
            req.on("end", () => {
                requests.push(`${req.method} ${req.url} ${req.headers.authorization ?? ""}`);
                const url = new URL(req.url!, `https://${host}`);
                if (url.pathname === "/token") {
                    const ok = req.headers.authorization === `Basic ${Buffer.from("ci:s3cret").toString("base64")}`;
                    res.writeHead(ok ? 200 : 401).end(ok ? JSON.stringify({ token: "t0k" }) : "");
                    return;
                }
                const challenge = mode === "bearer" && req.headers.authorization !== "Bearer t0k" ? `Bearer realm="https://${host}/token",service="test"`
                    : mode === "basic" ? 'Basic realm="test"' : undefined;
                if (challenge) {
                    res.writeHead(401, { "WWW-Authenticate": challenge }).end();
                    return;
                }
                const m = /^\/v2\/(.+)\/manifests\/(.+)$/.exec(url.pathname);
                const key = m ? `${m[1]}:${m[2]}` : "";
                if (req.method === "GET" && manifests.has(key)) {
                    const stored = manifests.get(key)!;
                    res.writeHead(200, { "Content-Type": stored.type }).end(mode === "tamper" ? Buffer.concat([stored.body, Buffer.from(" ")]) : stored.body);
                } else if (req.method === "PUT" && m) {
                    const body = Buffer.concat(chunks);
                    manifests.set(key, { body, type: String(req.headers["content-type"]) });
                    res.writeHead(201, { "Docker-Content-Digest": digestOf(body) }).end();
                } else {
                    res.writeHead(404).end();
                }
            });
        });
        await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
        host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
        fs.mkdirSync(path.join(dir, "certs.d", host), { recursive: true });
        fs.copyFileSync(path.join(dir, "ca.pem"), path.join(dir, "certs.d", host, "ca.crt"));
        process.env.IMAGEFLEET_DOCKER_CERTS_DIR = path.join(dir, "certs.d");
        fs.mkdirSync(path.join(dir, "docker-config"));
        process.env.DOCKER_CONFIG = path.join(dir, "docker-config");
        dockerCalls = path.join(dir, "docker-calls");
        fs.writeFileSync(path.join(dir, "docker"), `#!/bin/sh\necho "$@" >> ${dockerCalls}\n`, { mode: 0o755 });
        process.env.IMAGEFLEET_DOCKER = path.join(dir, "docker");
    });

    after(() => {
        server.close();
        for (const v of ["IMAGEFLEET_DOCKER_CERTS_DIR", "DOCKER_CONFIG", "IMAGEFLEET_DOCKER"]) {
            delete process.env[v];
        }
        fs.rmSync(dir, { recursive: true, force: true });
    });

    beforeEach(() => {
        mode = "open";
        requests.length = 0;
        fs.rmSync(dockerCalls, { force: true });
    });

    /** An index in `repo`, stored by digest; returns `host/repo@digest`. */
    const index = (repo: string, n: number) => {
        const body = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: INDEX, manifests: [], annotations: { n: String(n) } }));
        manifests.set(`${repo}:${digestOf(body)}`, { body, type: INDEX });
        return `${host}/${repo}@${digestOf(body)}`;
    };
    const imagetools = () => (fs.existsSync(dockerCalls) ? fs.readFileSync(dockerCalls, "utf8").trim().split("\n") : []);

    it("points each tag at the same bytes and media type, one GET and a PUT per tag, without imagetools", async () => {
        const a = index("team/a", 1);
        const b = index("team/b", 2);
        const tags = { [`${host}/team/a:abc123`]: a, [`${host}/team/a:dev`]: a, [`${host}/team/b:abc123`]: b };
        await tagSetProvider.create!({ tags });
        for (const [tag, source] of Object.entries(tags)) {
            const [repo, ref] = tag.slice(host.length + 1).split(":");
            const copied = manifests.get(`${repo}:${ref}`);
            assert.ok(copied, `${tag} was not written`);
            assert.equal(digestOf(copied.body), source.split("@")[1], `${tag} points at other bytes`);
            assert.equal(copied.type, INDEX);
        }
        assert.equal(requests.filter((r) => r.startsWith("GET")).length, 2, requests.join("\n"));
        assert.equal(requests.filter((r) => r.startsWith("PUT")).length, 3, requests.join("\n"));
        assert.deepEqual(imagetools(), []);
    });

    it("answers a token challenge with the TagSet's credentials, scoped to the repository", async () => {
        mode = "bearer";
        const a = index("team/c", 3);
        await tagSetProvider.update!("tags", { tags: {} }, { tags: { [`${host}/team/c:v1`]: a }, registry: { address: host, username: "ci", password: "s3cret" } });
        const token = requests.find((r) => r.startsWith("GET /token"));
        assert.ok(token, requests.join("\n"));
        assert.match(decodeURIComponent(token), /scope=repository:team\/c:pull,push/);
        assert.ok(requests.some((r) => r.startsWith("PUT /v2/team/c/manifests/v1 Bearer t0k")), requests.join("\n"));
        assert.equal(digestOf(manifests.get("team/c:v1")!.body), a.split("@")[1]);
        assert.deepEqual(imagetools(), []);
    });

    it("refuses a manifest that does not hash to its digest, and tries nothing else", async () => {
        mode = "tamper";
        const a = index("team/d", 4);
        await assert.rejects(tagSetProvider.update!("tags", { tags: {} }, { tags: { [`${host}/team/d:v1`]: a } }),
            new RegExp(`${host.replace(/\./g, "\\.")}/team/d:v1 -> .*: the registry served sha256:[0-9a-f]{64} for`));
        assert.equal(manifests.has("team/d:v1"), false);
        assert.deepEqual(imagetools(), []);
    });

    it("leaves to imagetools what it cannot answer: credentials it does not have, Docker Hub's short names", async () => {
        mode = "basic";
        const a = index("team/e", 5);
        await tagSetProvider.update!("tags", { tags: {} }, { tags: { [`${host}/team/e:v1`]: a, "library/busybox:x": "library/busybox@sha256:" + "1".repeat(64) } });
        assert.deepEqual(imagetools().sort(), [
            `buildx imagetools create -t ${host}/team/e:v1 ${a}`,
            `buildx imagetools create -t library/busybox:x library/busybox@sha256:${"1".repeat(64)}`,
        ].sort());
        assert.equal(parseRef("busybox:1"), undefined);
        assert.deepEqual(parseRef("registry.localhost:5000/a/b:c"), { host: "registry.localhost:5000", repo: "a/b", ref: "c" });
        assert.deepEqual(parseRef(`localhost/x@sha256:${"2".repeat(64)}`), { host: "localhost", repo: "x", ref: `sha256:${"2".repeat(64)}` });
    });
});
