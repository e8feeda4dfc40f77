import { spawnSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

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
    readonly status: "CACHED" | "DONE" | "ERROR" | "RUNNING";
    readonly seconds?: number;
}

/** Parses BuildKit's `--progress=plain` output into one entry per vertex. */
export function parseProgress(output: string): Step[] {
    const names = new Map<string, string>();
    const status = new Map<string, { status: Step["status"]; seconds?: number }>();
    for (const line of output.split("\n")) {
        const m = /^#(\d+) (.*)$/.exec(line);
        if (!m) {
            continue;
        }
        const [, id, rest] = m;
        if (!names.has(id) && rest.startsWith("[")) {
            names.set(id, rest);
        }
        if (rest === "CACHED") {
            status.set(id, { status: "CACHED" });
        } else if (/^DONE [\d.]+s$/.test(rest)) {
            status.set(id, { status: "DONE", seconds: parseFloat(rest.slice(5)) });
        } else if (rest.startsWith("ERROR")) {
            status.set(id, { status: "ERROR" });
        }
    }
    return [...names].map(([id, name]) => ({ id, name, ...(status.get(id) ?? { status: "RUNNING" as const }) }));
}

/** Steps that are `RUN` instructions of the given bake targets (prefix match on the target name). */
export function runSteps(steps: readonly Step[], targetPrefix: string): Step[] {
    return steps.filter((s) => s.name.startsWith(`[${targetPrefix}`) && / RUN /.test(s.name));
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
