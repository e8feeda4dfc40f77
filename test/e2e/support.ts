import { spawn, spawnSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { bakeForStack } from "../../scripts/bake";

export const ROOT = path.resolve(__dirname, "..", "..");
export const REGISTRY_HTTP = process.env.IMAGEFLEET_REGISTRY_HTTP ?? "https://registry.localhost:5000";

/** A fresh 40-hex SHA per test run, so its tags never collide with earlier runs'. */
export function runSha(): string {
    return crypto.randomBytes(20).toString("hex");
}

export interface Run {
    readonly code: number;
    readonly stdout: string;
    readonly stderr: string;
    readonly seconds: number;
}

/** Runs a command, capturing output; never throws on a non-zero exit. */
export function sh(cmd: string, args: readonly string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; input?: string } = {}): Run {
    const start = Date.now();
    const r = spawnSync(cmd, args, {
        cwd: opts.cwd ?? ROOT,
        env: { ...process.env, ...opts.env },
        encoding: "utf8",
        input: opts.input,
        maxBuffer: 256 * 1024 * 1024,
    });
    if (r.error) {
        throw r.error;
    }
    return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr, seconds: (Date.now() - start) / 1000 };
}

/** Like `sh`, but a non-zero exit is an error that shows the command's output. */
export function must(cmd: string, args: readonly string[], opts: Parameters<typeof sh>[2] = {}): Run {
    const r = sh(cmd, args, opts);
    if (r.code !== 0) {
        throw new Error(`${cmd} ${args.join(" ")} exited ${r.code}\n--- stdout\n${r.stdout.slice(-4000)}\n--- stderr\n${r.stderr.slice(-8000)}`);
    }
    return r;
}

export interface Step {
    readonly id: string;
    readonly name: string;
    /** BuildKit reported the vertex CACHED (it may still show blob downloads later). */
    readonly cached: boolean;
    /** The step's process printed output: it really ran. */
    readonly ran: boolean;
    readonly failed: boolean;
    /** The vertex's own lines, for failure messages. */
    readonly lines: readonly string[];
}

/**
 * Parses BuildKit's `--progress=plain` output into one entry per vertex. A
 * cached vertex whose layers are fetched from the registry cache during export
 * shows download lines and a final DONE after its CACHED, so "ran" is judged by
 * process output (lines with an elapsed-time prefix), not by the last status.
 */
export function parseProgress(output: string): Step[] {
    const names = new Map<string, string>();
    const cached = new Set<string>();
    const ran = new Set<string>();
    const failed = new Set<string>();
    const lines = new Map<string, string[]>();
    for (const line of output.split("\n")) {
        const m = /^#(\d+) (.*)$/.exec(line);
        if (!m) {
            continue;
        }
        const [, id, rest] = m;
        lines.set(id, [...(lines.get(id) ?? []), line].slice(-40));
        if (!names.has(id) && rest.startsWith("[")) {
            names.set(id, rest);
        }
        if (rest === "CACHED") {
            cached.add(id);
        } else if (/^\d+\.\d+ /.test(rest)) {
            ran.add(id);
        } else if (rest.startsWith("ERROR")) {
            failed.add(id);
        }
    }
    return [...names].map(([id, name]) => ({ id, name, cached: cached.has(id), ran: ran.has(id), failed: failed.has(id), lines: lines.get(id) ?? [] }));
}

/**
 * The step did not execute: BuildKit either reported it CACHED or only fetched
 * its layers from the registry cache (blob transfers, then DONE; plain progress
 * prints no CACHED line for those). Any process output means it ran.
 */
export function fromCache(step: Step): boolean {
    const allowed = /^#\d+ (\[|CACHED$|DONE [\d.]+s$|sha256:[0-9a-f]{64} [\d.]+[kMG]?B \/ [\d.]+[kMG]?B [\d.]+s( done)?$|extracting sha256:|\.\.\.$)/;
    return !step.ran && !step.failed && step.lines.every((l) => allowed.test(l)) && (step.cached || step.lines.some((l) => /^#\d+ sha256:/.test(l)));
}

/** The arch a vertex belongs to, from its bake target name (`[example-artifact-arm64 …]`). */
export function archOf(step: Step): string | undefined {
    return /^\[[^\]]*-(amd64|arm64)[ \]]/.exec(step.name)?.[1];
}

const INDEX_TYPES = [
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
].join(", ");

/** Reads a manifest straight from the registry's HTTP API, with its digest. */
export async function manifest(repo: string, reference: string): Promise<{ status: number; digest?: string; body?: any }> {
    const res = await fetch(`${REGISTRY_HTTP}/v2/${repo}/manifests/${reference}`, { headers: { Accept: INDEX_TYPES } });
    if (res.status !== 200) {
        return { status: res.status };
    }
    return { status: 200, digest: res.headers.get("docker-content-digest") ?? undefined, body: await res.json() };
}

/** The real (non-attestation) platforms of an index. */
export function indexPlatforms(body: any): string[] {
    return (body.manifests ?? [])
        .filter((m: any) => m.platform && m.platform.os !== "unknown")
        .map((m: any) => `${m.platform.os}/${m.platform.architecture}${m.platform.variant ? `/${m.platform.variant}` : ""}`)
        .sort();
}

export async function tags(repo: string): Promise<string[]> {
    const res = await fetch(`${REGISTRY_HTTP}/v2/${repo}/tags/list`);
    if (res.status === 404) {
        return [];
    }
    return ((await res.json()) as any).tags ?? [];
}

/** A throwaway copy of the example's build context that a test may edit. */
export function copyExample(): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "imagefleet-example-"));
    fs.cpSync(path.join(ROOT, "example"), dir, { recursive: true, filter: (src) => !src.endsWith(".ts") });
    return dir;
}

export function requireEngine(): void {
    const r = sh("docker", ["info", "--format", "{{.ServerVersion}}"]);
    if (r.code !== 0) {
        throw new Error(`the e2e tier needs a Docker engine (run test/e2e/setup.sh): ${r.stderr.trim()}`);
    }
}

/**
 * Like `must`, for a command that may start a daemon (setup.sh, buildkitd.sh):
 * every descriptor above stderr is closed first, so the daemon cannot inherit
 * the e2e lock's descriptor from `flock LOCK npm run test:e2e` and hold the
 * lock for as long as it runs.
 */
export function mustDetached(cmd: string, args: readonly string[], opts: Parameters<typeof sh>[2] = {}): Run {
    const closeFds = 'for fd in /proc/$$/fd/*; do n=${fd##*/}; if ((n > 2)); then eval "exec $n>&-"; fi; done; exec "$@"';
    return must("bash", ["-c", closeFds, "bash", cmd, ...args], opts);
}

/** A throwaway copy of the project (see copyProjectTo) in a new temporary directory. */
export function copyProject(prefix = "imagefleet-project-"): string {
    return copyProjectTo(fs.mkdtempSync(path.join(os.tmpdir(), prefix)));
}

/** Copies the project (tracked and untracked files, node_modules linked but for its cache, the example's smaller compile) into `dir`, for a test to edit. */
export function copyProjectTo(dir: string): string {
    const files = must("git", ["ls-files", "-co", "--exclude-standard"]).stdout.split("\n").filter((f) => f && !f.startsWith("node_modules/"));
    for (const f of files) {
        const stat = fs.lstatSync(path.join(ROOT, f), { throwIfNoEntry: false });
        if (stat) {
            fs.mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
            // A tracked symlink (to a directory, say) stays a symlink.
            if (stat.isSymbolicLink()) {
                fs.symlinkSync(fs.readlinkSync(path.join(ROOT, f)), path.join(dir, f));
            } else {
                fs.copyFileSync(path.join(ROOT, f), path.join(dir, f));
            }
        }
    }
    linkNodeModules(dir);
    smallerCompile(dir);
    return dir;
}

/**
 * node_modules as a directory of links into the repository's, so installs are
 * shared but `node_modules/.cache` (where ImageFamily stages build contexts) is
 * the copy's own, as in a fresh clone after `npm ci`: copies that share it
 * stage one image's context over another's when two lanes run at once.
 */
export function linkNodeModules(dir: string): void {
    const target = path.join(dir, "node_modules");
    fs.mkdirSync(target);
    for (const entry of fs.readdirSync(path.join(ROOT, "node_modules"))) {
        if (entry !== ".cache") {
            fs.symlinkSync(path.join(ROOT, "node_modules", entry), path.join(target, entry));
        }
    }
}

/** Sets the copy's example to compile E2E_FUNCTIONS functions: the tests that use it judge steps, not compile time. */
export function smallerCompile(dir: string): void {
    const file = path.join(dir, "example", "artifact.Dockerfile");
    const text = fs.readFileSync(file, "utf8");
    const smaller = text.replace(/^ARG FUNCTIONS=\d+$/m, `ARG FUNCTIONS=${E2E_FUNCTIONS}`);
    if (smaller === text) {
        throw new Error(`${file} has no "ARG FUNCTIONS=<n>" line to set`);
    }
    fs.writeFileSync(file, smaller);
}

/** A command running in the background whose output a test watches. */
export interface Running {
    readonly pid: number;
    /** stdout and stderr so far, interleaved as they arrived. */
    output(): string;
    /** Resolves when `pattern` appears in the output; rejects after `seconds` or when the command exits first. */
    waitFor(pattern: RegExp, seconds: number): Promise<RegExpExecArray>;
    /** Sends a signal to the command. */
    signal(sig: NodeJS.Signals): void;
    /** Resolves when the command exits; kills it (SIGKILL) and rejects after `seconds`. */
    done(seconds: number): Promise<Run>;
}

/** Starts a command without waiting for it (`sh` waits). */
export function start(cmd: string, args: readonly string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Running {
    const t0 = Date.now();
    const child = spawn(cmd, args, { cwd: opts.cwd ?? ROOT, env: { ...process.env, ...opts.env }, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => { out += d; stdout += d; });
    child.stderr.on("data", (d: Buffer) => { out += d; stderr += d; });
    const exited = new Promise<Run>((resolve) => child.on("close", (code, sig) =>
        resolve({ code: code ?? (sig ? 128 : -1), stdout, stderr, seconds: (Date.now() - t0) / 1000 })));
    let finished = false;
    void exited.then(() => { finished = true; });
    return {
        pid: child.pid!,
        output: () => out,
        signal: (sig) => { child.kill(sig); },
        async waitFor(pattern, seconds) {
            const deadline = Date.now() + seconds * 1000;
            for (;;) {
                const m = pattern.exec(out);
                if (m) {
                    return m;
                }
                if (finished) {
                    throw new Error(`${cmd} ${args.join(" ")} exited before printing ${pattern}:\n${out.slice(-6000)}`);
                }
                if (Date.now() > deadline) {
                    throw new Error(`${cmd} ${args.join(" ")} did not print ${pattern} within ${seconds} s:\n${out.slice(-6000)}`);
                }
                await sleep(200);
            }
        },
        async done(seconds) {
            let killed = false;
            const timer = setTimeout(() => { killed = true; child.kill("SIGKILL"); }, seconds * 1000);
            const r = await exited;
            clearTimeout(timer);
            if (killed) {
                throw new Error(`${cmd} ${args.join(" ")} did not exit within ${seconds} s (killed):\n${out.slice(-6000)}`);
            }
            return r;
        },
    };
}

/** `pid` and every process below it (pids from /proc), parents first. */
export function processTree(pid: number): number[] {
    const children = new Map<number, number[]>();
    for (const entry of fs.readdirSync("/proc").filter((e) => /^\d+$/.test(e))) {
        try {
            // The command name may hold spaces and parentheses: the ppid follows the last ")".
            const stat = fs.readFileSync(`/proc/${entry}/stat`, "utf8");
            const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
            children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
        } catch {
            // gone meanwhile
        }
    }
    const out: number[] = [];
    const walk = (p: number) => { out.push(p); (children.get(p) ?? []).forEach(walk); };
    walk(pid);
    return out;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Every repository in the registry. */
export async function catalog(): Promise<string[]> {
    const res = await fetch(`${REGISTRY_HTTP}/v2/_catalog?n=10000`);
    return ((await res.json()) as { repositories?: string[] }).repositories ?? [];
}

/** `repo:tag` → manifest digest, for every tag of the given repositories, read from the registry. */
export async function registryTags(repos: readonly string[]): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    for (const repo of repos) {
        for (const tag of await tags(repo)) {
            const m = await manifest(repo, tag);
            if (m.status === 200 && m.digest) {
                out.set(`${repo}:${tag}`, m.digest);
            }
        }
    }
    return out;
}

/**
 * Problems with what `repo@reference` points at: the manifest is missing, or
 * it is an index one of whose entries the registry does not have (a
 * half-written index). Empty when it is whole.
 */
export async function incomplete(repo: string, reference: string): Promise<string[]> {
    const m = await manifest(repo, reference);
    if (m.status !== 200) {
        return [`${repo}:${reference} answers ${m.status}`];
    }
    const problems: string[] = [];
    for (const entry of (m.body?.manifests ?? []) as { digest: string }[]) {
        const child = await manifest(repo, entry.digest);
        if (child.status !== 200) {
            problems.push(`${repo}:${reference} (${m.digest}) names ${entry.digest}, which answers ${child.status}`);
        }
    }
    return problems;
}

/** The example's compile size (artifact.Dockerfile's FUNCTIONS) in tests that judge steps, not compile time. */
export const E2E_FUNCTIONS = 400;

/**
 * The local stack's bake file, written for `builder`. The docker driver's
 * exporter always unpacks into the engine's image store, and BuildKit refuses
 * `rewrite-timestamp` with unpack, so for that driver the option is dropped:
 * these stand-ins check the bake file on the engine, while the product builds
 * on buildkitd hosts (test/e2e/incremental.spec.ts checks the timestamps there).
 */
export async function writeBake(builder: string, overrides: readonly string[]): Promise<{ file: string; indexes: { tags: string[]; sources: string[] }[] }> {
    const { bake, indexes } = await bakeForStack("local", overrides);
    if (/^Driver:\s+docker$/m.test(must("docker", ["buildx", "inspect", builder]).stdout)) {
        for (const target of Object.values(bake.target)) {
            target.output = target.output?.map((o) => o.replace(/,rewrite-timestamp=true/, ""));
        }
    }
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "imagefleet-bake-")), "bake.json");
    fs.writeFileSync(file, JSON.stringify(bake, null, 2));
    return { file, indexes };
}
