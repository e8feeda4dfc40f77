import { createHash } from "crypto";
import * as fs from "fs";
import * as path from "path";
import { ContextEntry, scanContext } from "./context";

/**
 * Why stage at all: the docker-build provider hashes each file's full mode
 * into `contextHash` (so a clone under umask 0002 is "changed"), and BuildKit
 * copies modes and mtimes into `COPY` layers (so a fresh clone builds a new
 * digest). A staged copy holds only what `.dockerignore` admits, with modes
 * normalized the way git stores them (0644, or 0755 when executable) and
 * every mtime set to the build's SOURCE_DATE_EPOCH: what a build sees then
 * depends on file contents alone.
 */

/** Where a context was staged and what it contains. */
export interface StagedContext {
    /** Staged context directory, relative to the working directory (stable across clones). Required. */
    readonly location: string;
    /** Staged Dockerfile, relative to the working directory; `""` for a named context. Required. */
    readonly dockerfile: string;
    /** sha256 over every staged entry's path, normalized mode and content, and the Dockerfile. Required. */
    readonly digest: string;
    /** Admitted files (and symlinks). Required. */
    readonly files: number;
    /** Bytes of the admitted files. Required. */
    readonly bytes: number;
}

interface Recorded {
    readonly size: number;
    readonly mtimeMs: number;
    readonly ctimeMs: number;
    readonly ino: number;
    readonly mode: number;
    readonly kind: ContextEntry["kind"];
    /** sha256 of the content, or of the link target for a symlink. */
    readonly sha256: string;
}

const MANIFEST = "manifest.json";
const FORMAT = 1;

export function normalizedMode(entry: Pick<ContextEntry, "kind" | "mode">): number {
    return entry.kind === "dir" || (entry.mode & 0o111) !== 0 ? 0o755 : 0o644;
}

function sha256(data: Buffer | string): string {
    return createHash("sha256").update(data).digest("hex");
}

function readManifest(file: string): Record<string, Recorded> {
    try {
        const parsed = JSON.parse(fs.readFileSync(file, "utf8"));
        return parsed.format === FORMAT ? parsed.entries : {};
    } catch {
        return {};
    }
}

function unchanged(entry: ContextEntry, rec: Recorded | undefined, target: string): boolean {
    if (!rec || rec.kind !== entry.kind || rec.size !== entry.size || rec.mtimeMs !== entry.mtimeMs
        || rec.ctimeMs !== entry.ctimeMs || rec.ino !== entry.ino) {
        return false;
    }
    try {
        const st = fs.lstatSync(target);
        return entry.kind === "dir" ? st.isDirectory() : entry.kind === "symlink" ? st.isSymbolicLink() : st.isFile() && st.size === entry.size;
    } catch {
        return false;
    }
}

function writeEntry(source: string, target: string, entry: ContextEntry, epoch: Date): string {
    if (entry.kind === "dir") {
        fs.mkdirSync(target, { recursive: true });
        fs.chmodSync(target, 0o755);
        return "";
    }
    fs.rmSync(target, { recursive: true, force: true });
    if (entry.kind === "symlink") {
        const link = fs.readlinkSync(source);
        fs.symlinkSync(link, target);
        fs.lutimesSync(target, epoch, epoch);
        return sha256(link);
    }
    const data = fs.readFileSync(source);
    const tmp = `${target}.imagefleet-tmp`;
    fs.writeFileSync(tmp, data, { mode: normalizedMode(entry) });
    fs.chmodSync(tmp, normalizedMode(entry));
    fs.utimesSync(tmp, epoch, epoch);
    fs.renameSync(tmp, target);
    return sha256(data);
}

/** Removes staged entries the context no longer admits (deepest first). */
function prune(contextDir: string, keep: ReadonlySet<string>, previous: Record<string, Recorded>): void {
    const gone = Object.keys(previous).filter((p) => !keep.has(p)).sort().reverse();
    for (const rel of gone) {
        fs.rmSync(path.join(contextDir, rel), { recursive: true, force: true });
    }
}

export interface StageOptions {
    /** The context directory as the user wrote it. */
    readonly context: string;
    /** The Dockerfile (absolute or relative to the working directory); none for a named context. */
    readonly dockerfile?: string;
    /** Directory to stage into; created as needed. */
    readonly stageDir: string;
    /** Name of the staged Dockerfile (one stage may serve several images). */
    readonly dockerfileName: string;
    /** Seconds since the epoch written as every staged mtime. */
    readonly epoch: number;
}

/**
 * Mirrors a context into `stageDir/context` (only what `.dockerignore` admits,
 * normalized) and the Dockerfile beside it; files whose size, mtime, ctime and
 * inode are unchanged since the last run are not read again.
 */
export function stageContext(opts: StageOptions): StagedContext {
    const scan = scanContext(opts.context, opts.dockerfile);
    const contextDir = path.join(opts.stageDir, "context");
    const manifestFile = path.join(opts.stageDir, MANIFEST);
    const previous = readManifest(manifestFile);
    const epoch = new Date(opts.epoch * 1000);
    fs.mkdirSync(contextDir, { recursive: true });

    const next: Record<string, Recorded> = {};
    const hash = createHash("sha256");
    for (const entry of scan.entries) {
        const source = path.join(scan.root, entry.path);
        const target = path.join(contextDir, entry.path);
        const rec = previous[entry.path];
        const digest = unchanged(entry, rec, target) ? rec!.sha256 : writeEntry(source, target, entry, epoch);
        next[entry.path] = { size: entry.size, mtimeMs: entry.mtimeMs, ctimeMs: entry.ctimeMs, ino: entry.ino, mode: normalizedMode(entry), kind: entry.kind, sha256: digest };
        hash.update(`${entry.kind}\0${entry.path}\0${normalizedMode(entry).toString(8)}\0${digest}\n`);
    }
    prune(contextDir, new Set(Object.keys(next)), previous);
    // Directory mtimes last: writing their children changed them.
    for (const entry of scan.entries.filter((e) => e.kind === "dir").reverse()) {
        fs.utimesSync(path.join(contextDir, entry.path), epoch, epoch);
    }
    fs.utimesSync(contextDir, epoch, epoch);

    const cwd = process.cwd();
    let stagedDockerfile = "";
    if (opts.dockerfile !== undefined) {
        const dockerfile = fs.readFileSync(opts.dockerfile);
        stagedDockerfile = path.join(opts.stageDir, opts.dockerfileName);
        if (!fs.existsSync(stagedDockerfile) || !fs.readFileSync(stagedDockerfile).equals(dockerfile)) {
            fs.writeFileSync(stagedDockerfile, dockerfile);
        }
        // The provider and BuildKit re-apply the ignore file to the staged
        // copy: the same rules on an already-filtered tree change nothing, and
        // they keep the staged context from admitting more than the original.
        const ignoreCopy = `${stagedDockerfile}.dockerignore`;
        if (scan.ignoreFile) {
            fs.copyFileSync(scan.ignoreFile, ignoreCopy);
        } else {
            fs.rmSync(ignoreCopy, { force: true });
        }
        hash.update(`dockerfile\0${sha256(dockerfile)}\n`);
    }
    fs.writeFileSync(manifestFile, JSON.stringify({ format: FORMAT, entries: next }));

    return {
        location: path.relative(cwd, contextDir) || ".",
        dockerfile: stagedDockerfile && path.relative(cwd, stagedDockerfile),
        digest: hash.digest("hex"),
        files: scan.files,
        bytes: scan.bytes,
    };
}
