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
