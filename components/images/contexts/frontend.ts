import { ChildProcess, execFileSync, spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

/**
 * BuildKit's own Dockerfile frontend (`dockerfile.v0`, from the BuildKit
 * release the builders run), compiled to WebAssembly and run offline: it
 * answers which files of each local context a build reads, and what
 * BuildKit's Dockerfile checks report, without a builder. The Go side is
 * `scripts/tools/buildkit/frontend`; the npm package ships the .wasm, so
 * users need no Go toolchain.
 */

/** One build: a Dockerfile, its context and named contexts, for one platform. */
export interface FrontendRequest {
    /** Echoed in the response. Required. */
    readonly id: string;
    /** Absolute path of the Dockerfile. Required. */
    readonly dockerfile: string;
    /** Absolute path of the context directory. Required. */
    readonly context: string;
    /** Build stage. Default: the last. */
    readonly target?: string;
    /** Build args. Default: none. */
    readonly buildArgs?: Readonly<Record<string, string>>;
    /** `linux/amd64` or `linux/arm64`. Required. */
    readonly platform: string;
    /** Named contexts: a local directory (absolute), or an image (content not read). Default: none. */
    readonly named?: Readonly<Record<string, { readonly local: string } | { readonly image: string }>>;
    /** Run BuildKit's Dockerfile checks too. Default: false. */
    readonly lint?: boolean;
    /** List the files the build reads of each local (fsutil's walk). Default: false. */
    readonly files?: boolean;
}

/** What one build reads of one local directory (the context, or a named local context). */
export interface FrontendLocal {
    /** The build reads this directory at all. */
    readonly used: boolean;
    /** The paths the frontend asks for; null when it asks for the whole directory. */
    readonly followPaths: readonly string[] | null;
    /** The ignore file's patterns, as the frontend sends them. */
    readonly excludePatterns?: readonly string[];
    /** When the whole directory is read: the instructions that read it. */
    readonly whole?: readonly { readonly line: number; readonly text: string }[];
    /** What BuildKit would send of the directory: files, directories and symlinks. */
    readonly files?: readonly { readonly path: string; readonly kind: "file" | "dir" | "symlink" | "other" }[];
}

/** One of BuildKit's Dockerfile check findings (or the error that stopped the checks). */
export interface LintFinding {
    readonly ruleName?: string;
    readonly description?: string;
    /** The rule's documentation. */
    readonly url?: string;
    /** What is wrong, in the rule's words. */
    readonly detail?: string;
    /** A build error's message (the Dockerfile cannot be converted). */
    readonly message?: string;
    /** 1-based line of the Dockerfile. */
    readonly line?: number;
    readonly endLine?: number;
}

/** BuildKit's Dockerfile checks of one build: `docker buildx build --call=check`'s findings. */
export interface DockerfileChecks {
    /** One per rule violation, in BuildKit's order. */
    readonly warnings: readonly LintFinding[];
    /** The error that stopped the checks (the Dockerfile cannot be converted), if any. */
    readonly buildError?: LintFinding;
}

export interface FrontendResponse {
    readonly id: string;
    /** By local name: `context`, or a named context's name. */
    readonly locals?: Readonly<Record<string, FrontendLocal>>;
    /** A `# syntax=` directive; when not `builtin`, the build is forwarded to another frontend and nothing else is known. */
    readonly syntax?: { readonly ref: string; readonly line: number; readonly builtin: boolean };
    readonly lint?: DockerfileChecks;
    /** The frontend refused the build (no such target, a syntax error, a missing file). */
    readonly error?: string;
}

export const FRONTEND_WASM = "imagefleet-frontend.wasm";

/**
 * Where the frontend is: `IMAGEFLEET_FRONTEND_WASM`, else the package's
 * `wasm/` (the npm package; `npm run build:frontend` in a checkout), else the
 * tools directory `scripts/build-tools.sh` builds into.
 */
export function frontendWasm(env: NodeJS.ProcessEnv = process.env): string {
    const candidates = [
        env.IMAGEFLEET_FRONTEND_WASM,
        // components/images/contexts (ts-node) and dist/images/contexts (the package) are both three levels down.
        path.resolve(__dirname, "..", "..", "..", "wasm", FRONTEND_WASM),
        path.join(env.IMAGEFLEET_TOOLS_DIR ?? path.join(os.homedir(), ".cache", "imagefleet", "tools"), "share", FRONTEND_WASM),
    ].filter((c): c is string => c !== undefined && c !== "");
    const found = candidates.find((c) => fs.existsSync(c));
    if (found === undefined) {
        throw new Error(`BuildKit's Dockerfile frontend (${FRONTEND_WASM}) is not installed; looked in ${candidates.join(", ")}. ` +
            "The npm package ships it; in a checkout of imagefleet run `npm run build:frontend` (needs Go).");
    }
    return found;
}

/**
 * Runs the module under WASI in a child Node process: Node's WASI in the
 * program's own process would print an experimental-feature warning into
 * every `pulumi` run, and its fast API calls crash Node 20 on this module
 * (`--no-turbo-fast-api-calls`). The instance and WASI object are kept
 * reachable until `start` returns: Node 20 otherwise collects the WASI
 * object mid-call.
 */
const RUNNER = `
const { WASI } = require("node:wasi");
const fs = require("fs");
const wasi = new WASI({ version: "preview1", args: ["frontend", ...process.argv.slice(2)], env: {}, preopens: { "/": "/" }, returnOnExit: true });
const instance = new WebAssembly.Instance(new WebAssembly.Module(fs.readFileSync(process.argv[1])), wasi.getImportObject());
globalThis.keep = [wasi, instance];
process.exitCode = wasi.start(instance);
`;
const NODE_FLAGS = ["--no-warnings", "--no-turbo-fast-api-calls"];

/**
 * One frontend process for the life of this one (`serve` mode: a request per
 * line), asked synchronously: the program declares its families
 * synchronously, and the module's start-up (compiling 38 MB of WebAssembly,
 * Go's package initialisation) is most of what one answer costs. The child
 * and its pipes do not keep this process alive; it reads EOF and exits when
 * this process does.
 */
class FrontendServer {
    private readonly child: ChildProcess;
    private readonly input: number;
    private readonly output: number;
    private buffered = "";

    constructor(readonly wasm: string) {
        this.child = spawn(process.execPath, [...NODE_FLAGS, "-e", RUNNER, wasm, "serve"], { stdio: ["pipe", "pipe", "inherit"] });
        this.child.unref();
        const fd = (s: unknown) => (s as { _handle?: { fd?: number } })._handle?.fd;
        this.input = fd(this.child.stdin) ?? -1;
        this.output = fd(this.child.stdout) ?? -1;
        for (const s of [this.child.stdin, this.child.stdout] as unknown as { unref?: () => void }[]) {
            s.unref?.();
        }
        if (this.input < 0 || this.output < 0) {
            this.child.kill();
            throw new Error("no pipe to the frontend process");
        }
    }

    ask(requests: readonly FrontendRequest[]): FrontendResponse[] {
        writeAll(this.input, `${JSON.stringify({ builds: requests })}\n`);
        for (;;) {
            const nl = this.buffered.indexOf("\n");
            if (nl >= 0) {
                const line = this.buffered.slice(0, nl);
                this.buffered = this.buffered.slice(nl + 1);
                return (JSON.parse(line) as { builds: FrontendResponse[] }).builds;
            }
            const chunk = readSome(this.output);
            if (chunk === undefined) {
                throw new Error(`BuildKit's Dockerfile frontend (${this.wasm}) exited (code ${this.child.exitCode ?? "unknown"})`);
            }
            this.buffered += chunk;
        }
    }
}

/** Waits `ms` without spinning (the pipes are non-blocking). */
const pause = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

function writeAll(fd: number, text: string): void {
    const data = Buffer.from(text);
    for (let off = 0; off < data.length;) {
        try {
            off += fs.writeSync(fd, data, off);
        } catch (err) {
            if ((err as NodeJS.ErrnoException).code !== "EAGAIN") {
                throw err;
            }
            pause(2);
        }
    }
}

/** What the pipe has, waiting for something; undefined at EOF. */
function readSome(fd: number): string | undefined {
    const buf = Buffer.alloc(1 << 20);
    for (;;) {
        try {
            const n = fs.readSync(fd, buf, 0, buf.length, null);
            return n === 0 ? undefined : buf.toString("utf8", 0, n);
        } catch (err) {
            if ((err as NodeJS.ErrnoException).code !== "EAGAIN") {
                throw err;
            }
            pause(2);
        }
    }
}

let server: FrontendServer | undefined;

/** Answers every request: from this process's frontend server, else (no pipes to be had) from a one-shot run. */
export function runFrontend(requests: readonly FrontendRequest[], wasm = frontendWasm()): FrontendResponse[] {
    if (requests.length === 0) {
        return [];
    }
    const started = Date.now();
    let answers: FrontendResponse[];
    try {
        if (server?.wasm !== wasm) {
            server = new FrontendServer(wasm);
        }
        answers = server.ask(requests);
    } catch (err) {
        server = undefined;
        answers = runOnce(requests, wasm, err as Error);
    }
    if (process.env.IMAGEFLEET_FRONTEND_TRACE) {
        // Where a run's time goes (bench/ and the per-resource profile read it).
        fs.appendFileSync(process.env.IMAGEFLEET_FRONTEND_TRACE, `${Date.now() - started} ${requests.length}\n`);
    }
    return answers;
}

function runOnce(requests: readonly FrontendRequest[], wasm: string, why: Error): FrontendResponse[] {
    let stdout: string;
    try {
        stdout = execFileSync(process.execPath, [...NODE_FLAGS, "-e", RUNNER, wasm], {
            input: JSON.stringify({ builds: requests }),
            encoding: "utf8",
            maxBuffer: 1 << 30,
            stdio: ["pipe", "pipe", "pipe"],
        });
    } catch (err) {
        const e = err as { stderr?: string; message: string };
        throw new Error(`BuildKit's Dockerfile frontend (${wasm}) failed: ${(e.stderr ?? "").trim() || e.message} (after: ${why.message})`, { cause: err });
    }
    return (JSON.parse(stdout) as { builds: FrontendResponse[] }).builds;
}
