// What only AWS (and the network a host sits in) gives a builder host, stood
// in for on the host side of the test host's link: the instance metadata
// service (IMDSv2 only, as the fleet requires), SSM GetParameter, the BuildKit
// release tarball at the fleet's `buildkitReleaseUrl`, and the path to the
// registry. Each records what it was asked, so tests can say who fetched what.
//
// They run in a process of their own, so that a test may block (spawnSync,
// the Project harness) while the host it booted keeps talking to them:
//   node -r ts-node/register/transpile-only test/e2e/boot/standins.ts OPTIONS.json
// writes `<dir>/listening.json` when up, appends every answer to `<dir>/served.jsonl`
// and reads SSM parameters from `<dir>/parameters.json` at each request.
import { ChildProcess, spawn } from "child_process";
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

    constructor(readonly o: StandInOptions) {
        this.ssmHost = `ssm.${o.region}.amazonaws.com`;
        const ca = issue(o.dir, "standin-ca", caProfile("boot test AWS stand-in", 48));
        this.caPem = ca.cert;
        const server = issue(o.dir, "ssm", { ...serverProfile(this.ssmHost, [], 48), dnsNames: [this.ssmHost] }, ca);
        this.ssm = https.createServer({ cert: server.cert, key: server.key }, (req, res) => this.answerSsm(req, res));
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

    private answer(res: http.ServerResponse, what: string, status: number, body: string, type = "text/plain"): void {
        this.record({ what, status, at: Date.now() });
        res.writeHead(status, { "Content-Type": type, "Content-Length": Buffer.byteLength(body) });
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
            return this.answer(res, what, 200, token);
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

    /** SSM GetParameter, for callers that sign with the instance role's credentials from the metadata service. */
    private answerSsm(req: http.IncomingMessage, res: http.ServerResponse): void {
        const chunks: Buffer[] = [];
        req.on("data", (c: Buffer) => chunks.push(c));
        req.on("end", () => {
            const target = String(req.headers["x-amz-target"] ?? "");
            const what = `ssm ${target}`;
            const error = (status: number, type: string, message: string) =>
                this.answer(res, what, status, JSON.stringify({ __type: type, message }), "application/x-amz-json-1.1");
            const auth = String(req.headers.authorization ?? "");
            if (!auth.startsWith(`AWS4-HMAC-SHA256 Credential=${this.credentials.AccessKeyId}/`) || !auth.includes(`/${this.o.region}/ssm/aws4_request`)
                || req.headers["x-amz-security-token"] !== this.credentials.Token) {
                return error(400, "UnrecognizedClientException", "The security token included in the request is invalid.");
            }
            if (target !== "AmazonSSM.GetParameter") {
                return error(400, "InvalidAction", `${target} is not stood in for`);
            }
            const body = JSON.parse(Buffer.concat(chunks).toString("utf8") || "{}");
            const parameters = JSON.parse(fs.readFileSync(`${this.o.dir}/parameters.json`, "utf8")) as Record<string, string>;
            const value = parameters[body.Name];
            if (value === undefined) {
                return error(400, "ParameterNotFound", "");
            }
            if (body.WithDecryption !== true) {
                return error(400, "ValidationException", "the stand-in serves SecureStrings decrypted only");
            }
            this.answer(res, `${what} ${body.Name}`, 200, JSON.stringify({
                Parameter: { Name: body.Name, Type: "SecureString", Value: value, Version: 1, DataType: "text", LastModifiedDate: Date.now() / 1000 },
            }), "application/x-amz-json-1.1");
        });
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
    private constructor(readonly o: StandInOptions, private readonly proc: ChildProcess, readonly filesPort: number, readonly caPem: string, readonly ssmHost: string) {}

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
        return new StandInProcess(o, proc, l.filesPort, l.caPem, l.ssmHost);
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
        fs.writeFileSync(`${options.dir}/listening.json`, JSON.stringify({ filesPort: standIns.filesPort, caPem: standIns.caPem, ssmHost: standIns.ssmHost }));
    }, (err) => {
        console.error(err);
        process.exit(1);
    });
    process.on("SIGTERM", () => void standIns.close().then(() => process.exit(0)));
}
