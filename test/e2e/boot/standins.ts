// What only AWS (and the network a host sits in) gives a builder host, stood
// in for on the host side of the test host's link: the instance metadata
// service (IMDSv2 only, as the fleet requires), SSM GetParameter, a KMS
// signing key (GetPublicKey, DescribeKey, Sign: what cosign's awskms signer
// calls), the release tarballs at the fleet's URLs, and the path to the
// registry. Each records what it was asked, so tests can say who fetched what.
//
// They run in a process of their own, so that a test may block (spawnSync,
// the Project harness) while the host it booted keeps talking to them:
//   node -r ts-node/register/transpile-only test/e2e/boot/standins.ts OPTIONS.json
// writes `<dir>/listening.json` when up, appends every answer to `<dir>/served.jsonl`
// and reads SSM parameters from `<dir>/parameters.json` at each request.
import { ChildProcess, spawn, spawnSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as http from "http";
import * as https from "https";
import * as net from "net";
import { issue } from "../fleet/certs";
import { caProfile, serverProfile } from "../../../components/builders/certificates";

export interface StandInOptions {
    /** The address on the host side of the link; everything listens there. */
    readonly ip: string;
    readonly region: string;
    /** Files served over plain HTTP by URL path (the release tarball). */
    readonly files: Readonly<Record<string, string>>;
    /** Forwards `ip:<port>` to `127.0.0.1:<port>` (the registry, which listens on loopback only). */
    readonly forwardPorts: readonly number[];
    /** Where the stand-ins keep their certificate, log and parameters. */
    readonly dir: string;
}

export interface Served {
    readonly what: string;
    readonly status: number;
    readonly at: number;
}

const ROLE = "imagefleet-boot-host";
const ACCOUNT = "111122223333";

/** The listeners; `close()` stops them all. */
export class StandIns {
    /** CA the SSM endpoint's certificate chains to; the host must trust it, as it trusts Amazon's. */
    readonly caPem: string;
    readonly imdsPort = 80;
    readonly ssmHost: string;
    filesPort = 0;
    private readonly tokens = new Set<string>();
    private readonly credentials = { AccessKeyId: `ASIA${crypto.randomBytes(8).toString("hex").toUpperCase()}`, SecretAccessKey: crypto.randomBytes(20).toString("base64"), Token: crypto.randomBytes(32).toString("base64") };
    private readonly servers: net.Server[] = [];
    private readonly sockets = new Set<net.Socket>();

    readonly kmsHost: string;
    /** The stand-in's one KMS key (ECC_NIST_P256, SIGN_VERIFY): its ARN and public key. */
    readonly kmsKeyArn: string;
    readonly kmsPublicKeyPem: string;
    private readonly kmsKeyFile: string;

    constructor(readonly o: StandInOptions) {
        this.ssmHost = `ssm.${o.region}.amazonaws.com`;
        this.kmsHost = `kms.${o.region}.amazonaws.com`;
        const ca = issue(o.dir, "standin-ca", caProfile("boot test AWS stand-in", 48));
        this.caPem = ca.cert;
        const server = issue(o.dir, "aws", { ...serverProfile(this.ssmHost, [], 48), dnsNames: [this.ssmHost, this.kmsHost] }, ca);
        this.ssm = https.createServer({ cert: server.cert, key: server.key }, (req, res) => this.answerAws(req, res));
        const { privateKey, publicKey } = crypto.generateKeyPairSync("ec", { namedCurve: "P-256" });
        this.kmsKeyFile = `${o.dir}/kms-key.pem`;
        fs.writeFileSync(this.kmsKeyFile, privateKey.export({ type: "pkcs8", format: "pem" }), { mode: 0o600 });
        this.kmsPublicKeyPem = publicKey.export({ type: "spki", format: "pem" }) as string;
        this.kmsKeyArn = `arn:aws:kms:${o.region}:${ACCOUNT}:key/${crypto.randomUUID()}`;
    }

    private readonly ssm: https.Server;

    private record(s: Served): void {
        fs.appendFileSync(`${this.o.dir}/served.jsonl`, JSON.stringify(s) + "\n");
    }

    async start(): Promise<void> {
        const imds = http.createServer((req, res) => this.answerImds(req, res));
        const files = http.createServer((req, res) => this.answerFile(req, res));
        await this.listen(imds, this.imdsPort);
        await this.listen(this.ssm, 443);
        await this.listen(files, 0);
        this.filesPort = (files.address() as net.AddressInfo).port;
        for (const port of this.o.forwardPorts) {
            const forward = net.createServer((client) => {
                const upstream = net.connect(port, "127.0.0.1");
                client.pipe(upstream).pipe(client);
                const drop = () => { client.destroy(); upstream.destroy(); };
                client.on("error", drop);
                upstream.on("error", drop);
            });
            await this.listen(forward, port);
        }
    }

    async close(): Promise<void> {
        this.sockets.forEach((s) => s.destroy());
        await Promise.all(this.servers.map((s) => new Promise((r) => s.close(r))));
    }

    private listen(server: net.Server, port: number): Promise<void> {
        this.servers.push(server);
        server.on("connection", (s: net.Socket) => {
            this.sockets.add(s);
            s.on("close", () => this.sockets.delete(s));
        });
        return new Promise((resolve, reject) => {
            server.once("error", reject);
            server.listen(port, this.o.ip, () => resolve());
        });
    }

    private answer(res: http.ServerResponse, what: string, status: number, body: string, type = "text/plain", headers: Record<string, string> = {}): void {
        this.record({ what, status, at: Date.now() });
        res.writeHead(status, { "Content-Type": type, "Content-Length": Buffer.byteLength(body), ...headers });
        res.end(body);
    }

    /** IMDSv2: a token from PUT /latest/api/token, then GETs that carry it; no token, no answer (httpTokens: required). */
    private answerImds(req: http.IncomingMessage, res: http.ServerResponse): void {
        const url = req.url ?? "";
        const what = `imds ${req.method} ${url}`;
        if (req.method === "PUT" && url === "/latest/api/token") {
            const ttl = Number(req.headers["x-aws-ec2-metadata-token-ttl-seconds"]);
            if (!(ttl >= 1 && ttl <= 21600)) {
                return this.answer(res, what, 400, "");
            }
            const token = crypto.randomBytes(24).toString("base64");
            this.tokens.add(token);
            // As IMDS does; the AWS SDK for Go reads the token's lifetime from it and, without it, falls back to IMDSv1.
            return this.answer(res, what, 200, token, "text/plain", { "X-Aws-Ec2-Metadata-Token-Ttl-Seconds": String(ttl) });
        }
        if (req.method !== "GET" || !this.tokens.has(String(req.headers["x-aws-ec2-metadata-token"] ?? ""))) {
            return this.answer(res, what, 401, "");
        }
        const credentialsPath = "/latest/meta-data/iam/security-credentials/";
        switch (url) {
            case "/latest/meta-data/placement/region":
                return this.answer(res, what, 200, this.o.region);
            case credentialsPath:
                return this.answer(res, what, 200, ROLE);
            case credentialsPath + ROLE:
                return this.answer(res, what, 200, JSON.stringify({
                    Code: "Success", Type: "AWS-HMAC", LastUpdated: new Date().toISOString(),
                    Expiration: new Date(Date.now() + 6 * 3600_000).toISOString(), ...this.credentials,
                }), "application/json");
            default:
                return this.answer(res, what, 404, "");
        }
    }

    /** SSM and KMS share port 443 (and a certificate naming both); the host name says which is asked. */
    private answerAws(req: http.IncomingMessage, res: http.ServerResponse): void {
        const chunks: Buffer[] = [];
        req.on("data", (c: Buffer) => chunks.push(c));
        req.on("end", () => {
            const kms = String(req.headers.host ?? "").split(":")[0] === this.kmsHost;
            const service = kms ? "kms" : "ssm";
            const target = String(req.headers["x-amz-target"] ?? "");
            const error = (status: number, type: string, message: string) =>
                this.answer(res, `${service} ${target}`, status, JSON.stringify({ __type: type, message }), "application/x-amz-json-1.1");
            const auth = String(req.headers.authorization ?? "");
            if (!auth.startsWith(`AWS4-HMAC-SHA256 Credential=${this.credentials.AccessKeyId}/`) || !auth.includes(`/${this.o.region}/${service}/aws4_request`)
                || req.headers["x-amz-security-token"] !== this.credentials.Token) {
                return error(400, "UnrecognizedClientException", "The security token included in the request is invalid.");
            }
            const body = JSON.parse(Buffer.concat(chunks).toString("utf8") || "{}");
            if (kms) {
                return this.answerKms(res, target, body, error);
            }
            return this.answerSsm(res, target, body, error);
        });
    }

    /** KMS, for the one key: what cosign's awskms signer asks (sigstore/sigstore pkg/signature/kms/aws). */
    private answerKms(res: http.ServerResponse, target: string, body: Record<string, string>, error: (status: number, type: string, message: string) => void): void {
        const what = `kms ${target}`;
        const uuid = this.kmsKeyArn.split("/").pop();
        if (body.KeyId !== this.kmsKeyArn && body.KeyId !== uuid) {
            return error(400, "NotFoundException", `Key '${body.KeyId}' does not exist`);
        }
        const spec = { KeySpec: "ECC_NIST_P256", CustomerMasterKeySpec: "ECC_NIST_P256", KeyUsage: "SIGN_VERIFY", SigningAlgorithms: ["ECDSA_SHA_256"] };
        const json = (value: object) => this.answer(res, `${what} ${this.kmsKeyArn}`, 200, JSON.stringify(value), "application/x-amz-json-1.1");
        switch (target) {
            case "TrentService.GetPublicKey": {
                const der = crypto.createPublicKey(this.kmsPublicKeyPem).export({ type: "spki", format: "der" });
                return json({ KeyId: this.kmsKeyArn, PublicKey: der.toString("base64"), ...spec });
            }
            case "TrentService.DescribeKey":
                return json({ KeyMetadata: {
                    KeyId: uuid, Arn: this.kmsKeyArn, AWSAccountId: ACCOUNT, Enabled: true, KeyState: "Enabled", KeyManager: "CUSTOMER",
                    Origin: "AWS_KMS", CreationDate: Date.now() / 1000, Description: "boot test attestor key", ...spec,
                } });
            case "TrentService.Sign": {
                if (body.SigningAlgorithm !== "ECDSA_SHA_256" || !["DIGEST", "RAW", undefined].includes(body.MessageType)) {
                    return error(400, "ValidationException", `${body.SigningAlgorithm} / ${body.MessageType} is not stood in for`);
                }
                const message = Buffer.from(body.Message, "base64");
                const digest = body.MessageType === "DIGEST" ? message : crypto.createHash("sha256").update(message).digest();
                if (digest.length !== 32) {
                    return error(400, "ValidationException", "a SHA-256 digest is 32 bytes");
                }
                // Node signs only what it hashes itself; openssl's pkeyutl signs a digest as given, as KMS does for DIGEST.
                const signed = spawnSync("openssl", ["pkeyutl", "-sign", "-inkey", this.kmsKeyFile], { input: digest });
                if (signed.status !== 0) {
                    return error(500, "KMSInternalException", String(signed.stderr));
                }
                return json({ KeyId: this.kmsKeyArn, Signature: signed.stdout.toString("base64"), SigningAlgorithm: "ECDSA_SHA_256" });
            }
            default:
                return error(400, "InvalidAction", `${target} is not stood in for`);
        }
    }

    /** SSM GetParameter, for callers that sign with the instance role's credentials from the metadata service. */
    private answerSsm(res: http.ServerResponse, target: string, body: Record<string, unknown>, error: (status: number, type: string, message: string) => void): void {
        const what = `ssm ${target}`;
        if (target !== "AmazonSSM.GetParameter") {
            return error(400, "InvalidAction", `${target} is not stood in for`);
        }
        const parameters = JSON.parse(fs.readFileSync(`${this.o.dir}/parameters.json`, "utf8")) as Record<string, string>;
        const value = parameters[String(body.Name)];
        if (value === undefined) {
            return error(400, "ParameterNotFound", "");
        }
        if (body.WithDecryption !== true) {
            return error(400, "ValidationException", "the stand-in serves SecureStrings decrypted only");
        }
        this.answer(res, `${what} ${String(body.Name)}`, 200, JSON.stringify({
            Parameter: { Name: body.Name, Type: "SecureString", Value: value, Version: 1, DataType: "text", LastModifiedDate: Date.now() / 1000 },
        }), "application/x-amz-json-1.1");
    }

    private answerFile(req: http.IncomingMessage, res: http.ServerResponse): void {
        const hold = /^\/hold\/([\w-]+)$/.exec(req.url ?? "");
        if (hold) {
            // `GET /hold/<id>` answers 404 until `<dir>/released-<id>` exists: a build
            // step polls it to stay running until the test lets it end. Not logged.
            res.writeHead(fs.existsSync(`${this.o.dir}/released-${hold[1]}`) ? 200 : 404).end();
            return;
        }
        const file = this.o.files[req.url ?? ""];
        const what = `file ${req.url}`;
        if (req.method !== "GET" || file === undefined) {
            return this.answer(res, what, 404, "");
        }
        this.record({ what, status: 200, at: Date.now() });
        res.writeHead(200, { "Content-Type": "application/gzip", "Content-Length": fs.statSync(file).size });
        fs.createReadStream(file).pipe(res);
    }
}

/** The stand-ins' process, from the test's side. */
export class StandInProcess {
    private constructor(readonly o: StandInOptions, private readonly proc: ChildProcess, readonly filesPort: number, readonly caPem: string,
        readonly ssmHost: string, readonly kmsHost: string, readonly kmsKeyArn: string, readonly kmsPublicKeyPem: string) {}

    static async start(o: StandInOptions): Promise<StandInProcess> {
        fs.mkdirSync(o.dir, { recursive: true });
        fs.writeFileSync(`${o.dir}/parameters.json`, "{}");
        const file = `${o.dir}/options.json`;
        fs.writeFileSync(file, JSON.stringify(o));
        const out = fs.openSync(`${o.dir}/standins.log`, "a");
        const proc = spawn(process.execPath, ["-r", "ts-node/register/transpile-only", __filename, file], { stdio: ["ignore", out, out] });
        fs.closeSync(out);
        const listening = `${o.dir}/listening.json`;
        for (let i = 0; i < 120 && !fs.existsSync(listening); i++) {
            if (proc.exitCode !== null) {
                break;
            }
            await new Promise((r) => setTimeout(r, 250));
        }
        if (!fs.existsSync(listening)) {
            proc.kill();
            throw new Error(`the AWS stand-ins did not start:\n${fs.readFileSync(`${o.dir}/standins.log`, "utf8")}`);
        }
        const l = JSON.parse(fs.readFileSync(listening, "utf8"));
        return new StandInProcess(o, proc, l.filesPort, l.caPem, l.ssmHost, l.kmsHost, l.kmsKeyArn, l.kmsPublicKeyPem);
    }

    setParameters(parameters: Record<string, string>): void {
        fs.writeFileSync(`${this.o.dir}/parameters.json`, JSON.stringify(parameters), { mode: 0o600 });
    }

    /** Lets a step polling `/hold/<id>` finish. */
    release(id: string): void {
        fs.writeFileSync(`${this.o.dir}/released-${id}`, "");
    }

    /** Every answer so far. */
    served(): Served[] {
        const file = `${this.o.dir}/served.jsonl`;
        return fs.existsSync(file) ? fs.readFileSync(file, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l) as Served) : [];
    }

    /** Answers matching `what` with `status` (200 unless given), since `since` (epoch ms). */
    count(what: RegExp, status = 200, since = 0): number {
        return this.served().filter((s) => what.test(s.what) && s.status === status && s.at >= since).length;
    }

    async stop(): Promise<void> {
        if (this.proc.exitCode === null) {
            const exited = new Promise((r) => this.proc.once("exit", r));
            this.proc.kill("SIGTERM");
            await exited;
        }
    }
}

if (require.main === module) {
    const options = JSON.parse(fs.readFileSync(process.argv[2], "utf8")) as StandInOptions;
    const standIns = new StandIns(options);
    standIns.start().then(() => {
        fs.writeFileSync(`${options.dir}/listening.json`, JSON.stringify({
            filesPort: standIns.filesPort, caPem: standIns.caPem, ssmHost: standIns.ssmHost,
            kmsHost: standIns.kmsHost, kmsKeyArn: standIns.kmsKeyArn, kmsPublicKeyPem: standIns.kmsPublicKeyPem,
        }));
    }, (err) => {
        console.error(err);
        process.exit(1);
    });
    process.on("SIGTERM", () => void standIns.close().then(() => process.exit(0)));
}
