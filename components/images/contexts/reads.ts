import { createHash } from "crypto";
import * as fs from "fs";
import * as path from "path";
import { FrontendLocal, FrontendRequest, FrontendResponse, frontendWasm, runFrontend } from "./frontend";
import { ContextEntry, ContextScan } from "./scan";
import { Selection } from "./stage";

/**
 * Which files a build reads, as BuildKit's Dockerfile frontend answers it
 * (frontend.ts), kept between runs: `pulumi up` runs the program twice
 * (preview, update), and a commit that changes no Dockerfile, ignore file,
 * build arg or directory listing asks the same questions again.
 */

const FORMAT = 1;
const CACHE_FILE = "frontend.json";

/** This process's answers: a program with several families, and test runs, ask the same again. */
const memo = new Map<string, FrontendResponse>();

const sha256 = (data: string | Buffer) => createHash("sha256").update(data).digest("hex");

function fileDigest(file: string | undefined): string {
    return file !== undefined && fs.existsSync(file) ? sha256(fs.readFileSync(file)) : "";
}

/** The scans a request's answer depends on: the context's, and each named local context's. */
export interface RequestScans {
    readonly context: ContextScan;
    readonly named: Readonly<Record<string, ContextScan>>;
}

/**
 * The answer to a request depends on the request, the frontend, the files it
 * reads to decide (the Dockerfile, the ignore files) and which entries exist
 * (`ContextScan.listing`); not on the contents of the context's files.
 */
function cacheKey(wasm: string, request: FrontendRequest, scans: RequestScans): string {
    const st = fs.statSync(wasm);
    return sha256(JSON.stringify([
        FORMAT, st.size, st.mtimeMs, request,
        fileDigest(request.dockerfile), fileDigest(`${request.dockerfile}.dockerignore`),
        fileDigest(scans.context.ignoreFile), scans.context.listing,
        Object.entries(scans.named).sort(([a], [b]) => (a < b ? -1 : 1)).map(([n, s]) => [n, fileDigest(s.ignoreFile), s.listing]),
    ]));
}

/** Answers every request, from the cache file in `dir` where it can, else in one run of the frontend. */
export function answerRequests(dir: string, requests: readonly { request: FrontendRequest; scans: RequestScans }[]): FrontendResponse[] {
    if (requests.length === 0) {
        return [];
    }
    const wasm = frontendWasm();
    const file = path.join(dir, CACHE_FILE);
    let cached: Record<string, FrontendResponse> = {};
    try {
        const parsed = JSON.parse(fs.readFileSync(file, "utf8"));
        cached = parsed.format === FORMAT ? parsed.answers : {};
    } catch {
        // No cache yet, or an unreadable one: ask again.
    }
    const keys = requests.map((r) => cacheKey(wasm, r.request, r.scans));
    const known = (i: number) => memo.get(keys[i]) ?? cached[keys[i]];
    const missing = requests.filter((_, i) => known(i) === undefined);
    const fresh = runFrontend(missing.map((r) => r.request), wasm);
    const byId = new Map(fresh.map((a) => [a.id, a]));
    const answers = requests.map((r, i) => known(i) ?? byId.get(r.request.id)!);
    keys.forEach((k, i) => memo.set(k, answers[i]));
    if (keys.some((k) => cached[k] === undefined) || Object.keys(cached).length !== new Set(keys).size) {
        // Only this run's answers are kept, so the file does not grow.
        fs.mkdirSync(dir, { recursive: true });
        const tmp = `${file}.${process.pid}.tmp`;
        fs.writeFileSync(tmp, JSON.stringify({ format: FORMAT, answers: Object.fromEntries(keys.map((k, i) => [k, answers[i]])) }));
        fs.renameSync(tmp, file);
    }
    return answers;
}

/** `COPY . /app (line 3)`: the instructions that read a whole directory, for messages. */
export function wholeReason(local: FrontendLocal): string {
    const lines = (local.whole ?? []).map((w) => `${w.text || "an instruction"} (line ${w.line})`);
    return lines.length > 0 ? lines.join(", ") : "an instruction that reads the whole context";
}

/**
 * What to stage of one scanned directory for one build: the entries
 * BuildKit's walk would send (its followpaths and exclude patterns through
 * fsutil), nothing when the build does not read the directory, and the whole
 * admitted directory when the frontend cannot say (a `# syntax=` frontend
 * other than the built-in one). An entry BuildKit would send that the scan
 * did not admit is taken as BuildKit sends it.
 */
export function selectionOf(scan: ContextScan, local: FrontendLocal | undefined, forwarded?: string): Selection & { readonly key: string } {
    if (forwarded !== undefined) {
        return { entries: scan.entries, whole: forwarded, key: "admitted" };
    }
    if (local === undefined || !local.used) {
        return { entries: [], key: "none" };
    }
    const scanned = new Map(scan.entries.map((e) => [e.path, e]));
    const entries: ContextEntry[] = [];
    for (const f of local.files ?? []) {
        if (f.kind === "other") {
            continue; // sockets and devices: BuildKit skips them too
        }
        const known = scanned.get(f.path);
        if (known !== undefined) {
            entries.push(known);
            continue;
        }
        const st = fs.lstatSync(path.join(scan.root, f.path));
        entries.push({ path: f.path, kind: f.kind, size: st.isFile() ? st.size : 0, mode: st.mode & 0o7777, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs, ino: st.ino });
    }
    entries.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    return local.followPaths === null
        ? { entries, whole: wholeReason(local), key: "whole" }
        : { entries, key: JSON.stringify(local.followPaths) };
}
