/**
 * Runs cosign, syft and docker for the dynamic providers. Pulumi serializes
 * each provider with everything its functions reach, so this module keeps to
 * Node built-ins (required inside the functions) and holds no secret: key
 * material arrives only as a resource's secret inputs, is written to a 0600
 * file in a fresh 0700 directory for one command, and is removed afterwards.
 */

/** Registry credentials for cosign and syft (written to a throwaway DOCKER_CONFIG). */
export interface RegistryAuth {
    /** Registry host, e.g. `123456789012.dkr.ecr.eu-west-1.amazonaws.com`. Required. */
    readonly address: string;
    /** Username. Default: none. */
    readonly username?: string;
    /** Password or token. Default: none (no credentials are written). */
    readonly password?: string;
}

/** How to sign: a cosign key pair (local stack) or a KMS reference (`awskms:///arn:…`). */
export interface SigningMaterial {
    /** Encrypted cosign private key (PEM), used with `password`. Default: none (then `keyRef`). */
    readonly privateKey?: string;
    /** The private key's password (COSIGN_PASSWORD). Default: none. */
    readonly password?: string;
    /** A cosign KMS key reference, e.g. `awskms:///arn:aws:kms:…`. Default: none (then `privateKey`). */
    readonly keyRef?: string;
}

/** How to verify: a public key (PEM) or a KMS reference. */
export interface VerifyingMaterial {
    /** PEM public key. Default: none (then `keyRef`). */
    readonly publicKey?: string;
    /** A cosign KMS key reference, e.g. `awskms:///alias/imagefleet-staging-cosign`. Default: none (then `publicKey`). */
    readonly keyRef?: string;
}

export interface ToolRun {
    readonly code: number;
    readonly stdout: string;
    readonly stderr: string;
    /** Files the tool wrote into the scratch directory that were asked for (`read`), by name. */
    readonly files: Readonly<Record<string, string>>;
}

/**
 * Flags that keep cosign v3 off the public Sigstore services: no TUF signing
 * config, no Rekor upload; verification skips the transparency log and trusts
 * the key alone. Signatures and attestations are Sigstore bundles stored as OCI
 * 1.1 referrers (on a registry without the referrers API, go-containerregistry
 * keeps the referrers index under the `sha256-<hex>` tag, as the OCI spec says).
 */
export const COSIGN_SIGN_FLAGS = ["--yes", "--tlog-upload=false", "--use-signing-config=false"];
export const COSIGN_VERIFY_FLAGS = ["--insecure-ignore-tlog=true"];

/**
 * Runs a tool with a scratch directory holding key files and a docker config;
 * never throws on a non-zero exit. Asynchronous: every dynamic resource of a
 * stack shares one provider process, and a synchronous spawn there would run
 * the stack's cosign and syft calls one at a time.
 */
export async function runTool(
    tool: "cosign" | "syft" | "docker",
    args: readonly string[],
    opts: {
        signing?: SigningMaterial;
        verifying?: VerifyingMaterial;
        registry?: RegistryAuth;
        /** Files written into the scratch directory (`{dir}` in args) before the run. */
        files?: Record<string, string>;
        /** Files read back from the scratch directory after the run. */
        read?: readonly string[];
        env?: Record<string, string>;
        /** Milliseconds before the tool is killed. Default: 20 minutes. */
        timeoutMs?: number;
    } = {},
): Promise<ToolRun> {
    const cp = require("child_process") as typeof import("child_process");
    const fs = require("fs") as typeof import("fs");
    const os = require("os") as typeof import("os");
    const path = require("path") as typeof import("path");
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "imagefleet-sc-"));
    fs.chmodSync(dir, 0o700);
    try {
        const env: NodeJS.ProcessEnv = { ...process.env, SYFT_CHECK_FOR_APP_UPDATE: "false", ...opts.env };
        const sub = (a: string) => a.replace(/\{dir\}/g, dir);
        const write = (name: string, content: string) => fs.writeFileSync(path.join(dir, name), content, { mode: 0o600 });
        for (const [name, content] of Object.entries(opts.files ?? {})) {
            write(name, content);
        }
        const keyArgs: string[] = [];
        if (opts.signing?.keyRef) {
            keyArgs.push("--key", opts.signing.keyRef);
        } else if (opts.signing?.privateKey) {
            write("cosign.key", opts.signing.privateKey);
            keyArgs.push("--key", path.join(dir, "cosign.key"));
            env.COSIGN_PASSWORD = opts.signing.password ?? "";
        } else if (opts.verifying?.keyRef) {
            keyArgs.push("--key", opts.verifying.keyRef);
        } else if (opts.verifying?.publicKey) {
            write("cosign.pub", opts.verifying.publicKey);
            keyArgs.push("--key", path.join(dir, "cosign.pub"));
        }
        if (opts.registry?.password) {
            const auth = Buffer.from(`${opts.registry.username ?? ""}:${opts.registry.password}`).toString("base64");
            fs.mkdirSync(path.join(dir, "docker"), { mode: 0o700 });
            write(path.join("docker", "config.json"), JSON.stringify({ auths: { [opts.registry.address]: { auth } } }));
            // buildx keeps its builders (and the current one) beside the config: keep them.
            const home = process.env.DOCKER_CONFIG || path.join(os.homedir(), ".docker");
            for (const sub of ["buildx", "contexts"]) {
                if (fs.existsSync(path.join(home, sub))) {
                    fs.symlinkSync(path.join(home, sub), path.join(dir, "docker", sub));
                }
            }
            env.DOCKER_CONFIG = path.join(dir, "docker");
        }
        const bin = process.env[`IMAGEFLEET_${tool.toUpperCase()}`] || tool;
        const argv = [...args.map(sub)];
        // Key flags go right after the subcommand(s), before the image reference.
        const at = argv.indexOf("{key}");
        if (at >= 0) {
            argv.splice(at, 1, ...keyArgs);
        }
        const r = await new Promise<{ status: number | null; stdout: string; stderr: string; error?: Error }>((resolve) => {
            const child = cp.spawn(bin, argv, { env, stdio: ["ignore", "pipe", "pipe"] });
            const out: Buffer[] = [];
            const err: Buffer[] = [];
            const timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs ?? 20 * 60 * 1000);
            child.stdout.on("data", (d: Buffer) => out.push(d));
            child.stderr.on("data", (d: Buffer) => err.push(d));
            const done = (status: number | null, error?: Error) => {
                clearTimeout(timer);
                resolve({ status, stdout: Buffer.concat(out).toString("utf8"), stderr: Buffer.concat(err).toString("utf8"), error });
            };
            child.on("error", (e) => done(null, e));
            child.on("close", (code, signal) => done(code, signal ? new Error(`killed by ${signal}`) : undefined));
        });
        if (r.error) {
            const hint = (r.error as NodeJS.ErrnoException).code === "ENOENT"
                ? ` (not on PATH: build it with scripts/build-tools.sh and source ~/.cache/imagefleet/tools/env.sh, or set IMAGEFLEET_${tool.toUpperCase()})`
                : "";
            return { code: -1, stdout: r.stdout, stderr: `${tool}: ${r.error.message}${hint}\n${r.stderr}`.trim(), files: {} };
        }
        const files: Record<string, string> = {};
        for (const name of opts.read ?? []) {
            const file = path.join(dir, name);
            if (fs.existsSync(file)) {
                files[name] = fs.readFileSync(file, "utf8");
            }
        }
        return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr, files };
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

/**
 * Runs `write` holding this process's lock for `subject` (`repo@sha256:…`):
 * one signature or attestation write per digest at a time. On a registry
 * without the referrers API, cosign records each bundle by reading the
 * subject's `sha256-<hex>` tag, adding to it and writing it back, with no
 * conditional request (go-containerregistry's remote writer says as much),
 * so two writes for one digest at once lose one: seen in the e2e tier as an
 * index whose signature was missing from its fallback tag while its
 * provenance and SBOMs were there. Every dynamic resource of a stack runs in
 * one provider process; the locks live on `globalThis` because each
 * resource's provider is deserialized apart from the others.
 */
export async function withSubjectLock<T>(subject: string, write: () => Promise<T>): Promise<T> {
    const g = globalThis as { imagefleetSubjectLocks?: Map<string, Promise<unknown>> };
    const locks = (g.imagefleetSubjectLocks ??= new Map<string, Promise<unknown>>());
    const turn = (locks.get(subject) ?? Promise.resolve()).then(write);
    const done = turn.then(() => undefined, () => undefined);
    locks.set(subject, done);
    try {
        return await turn;
    } finally {
        if (locks.get(subject) === done) {
            locks.delete(subject);
        }
    }
}

/** The last lines of a tool's error output, for an error message. */
export function tail(r: ToolRun, lines = 6): string {
    return (r.stderr || r.stdout).trim().split("\n").slice(-lines).join("\n");
}
