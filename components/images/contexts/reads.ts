import { createHash } from "crypto";
import * as fs from "fs";
import * as path from "path";
import { FrontendLocal, FrontendRequest, FrontendResponse, frontendWasm, runFrontend } from "./frontend";
import { ContextEntry, ContextScan } from "./scan";
import { Selection } from "./stage";

/**
 * Which files a build reads, as BuildKit's Dockerfile frontend answers it
 * (frontend.ts), kept between runs: `pulumi up` runs the program twice
 * (preview, update), and most commits change no Dockerfile, ignore file or
 * build arg, and no directory a build reads from.
 */

const FORMAT = 2;
const CACHE_FILE = "frontend.json";

/** An answer and, per local it reads, the fingerprint of what it read (see `readFingerprint`). */
interface Cached {
    readonly answer: FrontendResponse;
    readonly read: Readonly<Record<string, string>>;
}

/** This process's answers: a program with several families, and test runs, ask the same again. */
const memo = new Map<string, Cached>();

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
 * What decides the frontend's answer besides the directories' listings: the
 * request, the frontend, and the files it reads to decide (the Dockerfile,
 * the ignore files). Not the contents of the context's files.
 */
function requestKey(wasm: string, request: FrontendRequest, scans: RequestScans): string {
    const st = fs.statSync(wasm);
    return sha256(JSON.stringify([
        FORMAT, st.size, st.mtimeMs, request,
        fileDigest(request.dockerfile), fileDigest(`${request.dockerfile}.dockerignore`), fileDigest(scans.context.ignoreFile),
        Object.entries(scans.named).sort(([a], [b]) => (a < b ? -1 : 1)).map(([n, sc]) => [n, fileDigest(sc.ignoreFile)]),
    ]));
}

/** The literal directory part of a follow path: `src/*.c` → `src`, `conf/fe` → `conf/fe`. */
function literalPrefix(followPath: string): string {
    const glob = followPath.search(/[*?[\\]/);
    return glob < 0 ? followPath : path.posix.dirname(followPath.slice(0, glob + 1));
}

/**
 * The part of a directory's listing an answer depends on: the entries under
 * the paths the build follows (each entry's path and kind, each directory's
 * mtime and inode: a file created, removed or renamed in a directory changes
 * its mtime), and the files the answer listed (a symlink's target may lie
 * elsewhere). The whole listing when the build reads the whole directory. A
 * docs-only commit changes none of it for a build that reads no docs.
 */
function readFingerprint(scan: ContextScan, local: FrontendLocal | undefined): string {
    if (local === undefined || !local.used) {
        return "unused";
    }
    if (local.followPaths === null) {
        return scan.listing;
    }
    const prefixes = local.followPaths.map(literalPrefix);
    if (prefixes.some((p) => p === "." || p === "" || p === "/")) {
        return scan.listing;
    }
    const h = createHash("sha256");
    for (const e of scan.entries) {
        if (prefixes.some((p) => e.path === p || e.path.startsWith(`${p}/`))) {
            h.update(e.kind === "dir" ? `${e.path}\0dir\0${e.mtimeMs}\0${e.ino}\n` : `${e.path}\0${e.kind}\n`);
        }
    }
    for (const f of local.files ?? []) {
        const st = fs.lstatSync(path.join(scan.root, f.path), { throwIfNoEntry: false });
        h.update(`listed\0${f.path}\0${st === undefined ? "gone" : st.isDirectory() ? "dir" : st.isSymbolicLink() ? "symlink" : "file"}\n`);
    }
    return h.digest("hex");
}

function readsOf(answer: FrontendResponse, scans: RequestScans): Record<string, string> {
    return Object.fromEntries([["context", scans.context] as const, ...Object.entries(scans.named)].map(([name, scan]) => [name, readFingerprint(scan, answer.locals?.[name])]));
}

/** Forgets this process's answers (tests: to see what the cache file alone answers). */
export function forgetAnswers(): void {
    memo.clear();
}

const still = (c: Cached | undefined, scans: RequestScans): c is Cached =>
    c !== undefined && JSON.stringify(readsOf(c.answer, scans)) === JSON.stringify(c.read);

/** Answers every request, from the cache file in `dir` where it still holds, else in one run of the frontend. */
export function answerRequests(dir: string, requests: readonly { request: FrontendRequest; scans: RequestScans }[]): FrontendResponse[] {
    if (requests.length === 0) {
        return [];
    }
    const wasm = frontendWasm();
    const file = path.join(dir, CACHE_FILE);
    let cached: Record<string, Cached> = {};
    try {
        const parsed = JSON.parse(fs.readFileSync(file, "utf8"));
        cached = parsed.format === FORMAT ? parsed.answers : {};
    } catch {
        // No cache yet, or an unreadable one: ask again.
    }
    const keys = requests.map((r) => requestKey(wasm, r.request, r.scans));
    const known = requests.map((r, i) => [memo.get(keys[i]), cached[keys[i]]].find((c) => still(c, r.scans)));
    const missing = requests.filter((_, i) => known[i] === undefined);
    const byId = new Map(runFrontend(missing.map((r) => r.request), wasm).map((a) => [a.id, a]));
    const entries: Cached[] = requests.map((r, i) => {
        if (known[i] !== undefined) {
            return known[i]!;
        }
        const answer = byId.get(r.request.id)!;
        return { answer, read: readsOf(answer, r.scans) };
    });
    keys.forEach((k, i) => memo.set(k, entries[i]));
    if (keys.some((k, i) => cached[k] !== entries[i]) || Object.keys(cached).length !== new Set(keys).size) {
        // Only this run's answers are kept, so the file does not grow.
        fs.mkdirSync(dir, { recursive: true });
        const tmp = `${file}.${process.pid}.tmp`;
        fs.writeFileSync(tmp, JSON.stringify({ format: FORMAT, answers: Object.fromEntries(keys.map((k, i) => [k, entries[i]])) }));
        fs.renameSync(tmp, file);
    }
    return entries.map((e) => e.answer);
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
