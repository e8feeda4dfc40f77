import { createHash, Hash } from "crypto";
import * as fs from "fs";
import * as path from "path";
import { ContextEntry, ContextScan, DirectoryTotals, scanContext } from "./scan";

/**
 * Why stage at all: the docker-build provider hashes each file's full mode
 * into `contextHash` (so a clone under umask 0002 is "changed"), and BuildKit
 * copies modes and mtimes into `COPY` layers (so a fresh clone builds a new
 * digest). A staged copy holds only what `.dockerignore` admits, with modes
 * normalized the way git stores them (0644, or 0755 when executable) and
 * every mtime set to the build's SOURCE_DATE_EPOCH: what a build sees then
 * depends on file contents alone.
 */

/** What a build reads of its context: the figures of the staged files. */
export interface ReadFigures {
    /** Files (and symlinks) the build reads, all of which are staged. Required. */
    readonly files: number;
    /** Their bytes. Required. */
    readonly bytes: number;
    /** Why the whole admitted context is read (`COPY . /app (line 3)`). Default: none (only some files are read). */
    readonly whole?: string;
}

/** Where a context was staged and what it contains. */
export interface StagedContext {
    /** Staged context directory, relative to the working directory (stable across clones). Required. */
    readonly location: string;
    /** Staged Dockerfile, relative to the working directory; `""` for a named context. Required. */
    readonly dockerfile: string;
    /** sha256 over every staged entry's path, normalized mode and content, and the Dockerfile. Required. */
    readonly digest: string;
    /** Files (and symlinks) the ignore file admits. Required. */
    readonly files: number;
    /** Bytes of the admitted files. Required. */
    readonly bytes: number;
    /** What the build reads of them: only these are staged, fingerprinted and given to the provider. Required. */
    readonly read: ReadFigures;
    /** sha256 of each file (and symlink target) read, by path: what a later run compares to say which changed. Required. */
    readonly readDigests: ReadonlyMap<string, string>;
    /** sha256 of the Dockerfile; `""` for a named context. Required. */
    readonly dockerfileDigest: string;
    /** The context directory as found: relative to the working directory when inside it (`.` for it), else absolute. Required. */
    readonly source: string;
    /** The ignore file applied, shown like `source`. Default: none (the context has no ignore file). */
    readonly ignoreFile?: string;
    /** Admitted files and bytes per directory of the context (see `ContextScan.dirs`). Required. */
    readonly dirs: ReadonlyMap<string, DirectoryTotals>;
    /** Seconds this run spent staging the selection (shared by the images that read the same files). Required. */
    readonly seconds: number;
}

/** A selection staged without a Dockerfile: what the images that read the same files have in common. */
export interface StagedTree extends Omit<StagedContext, "dockerfile" | "digest" | "dockerfileDigest"> {
    /** Where the selection and its Dockerfiles are staged. */
    readonly stageDir: string;
    /** The ignore file applied (absolute), copied beside each staged Dockerfile. */
    readonly ignorePath?: string;
    /** The digest so far (every staged entry); `stageDockerfile` copies it and adds the Dockerfile. */
    readonly hash: Hash;
}

/** The entries of a context a build reads, as BuildKit's frontend decided (see reads.ts). */
export interface Selection {
    /** Entries to stage, sorted by path; directories included. Required. */
    readonly entries: readonly ContextEntry[];
    /** Why the whole admitted context is read. Default: none (only some of it is). */
    readonly whole?: string;
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

/**
 * What the stage holds, read one directory at a time: a no-op run confirms
 * each staged entry with a readdir per directory instead of an lstat per file
 * (on a 100k-file context that lstat was a seventh of a no-op). Presence and
 * kind are what can go wrong: only imagefleet writes there, each file whole
 * (written aside, then renamed).
 */
class StagedListing {
    private readonly dirs = new Map<string, Map<string, string>>();

    constructor(private readonly root: string) {}

    kind(rel: string): string | undefined {
        const dir = path.posix.dirname(rel);
        let names = this.dirs.get(dir);
        if (!names) {
            names = new Map();
            try {
                for (const d of fs.readdirSync(dir === "." ? this.root : path.join(this.root, dir), { withFileTypes: true })) {
                    names.set(d.name, d.isDirectory() ? "dir" : d.isSymbolicLink() ? "symlink" : d.isFile() ? "file" : "other");
                }
            } catch {
                // Not staged yet: every entry below is written.
            }
            this.dirs.set(dir, names);
        }
        return names.get(path.posix.basename(rel));
    }
}

function unchanged(entry: ContextEntry, rec: Recorded | undefined, staged: StagedListing): boolean {
    return rec !== undefined && rec.kind === entry.kind && rec.size === entry.size && rec.mtimeMs === entry.mtimeMs
        && rec.ctimeMs === entry.ctimeMs && rec.ino === entry.ino && staged.kind(entry.path) === entry.kind;
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

/** Stages everything the ignore file admits (a build that reads its whole context) and the Dockerfile. */
export function stageContext(opts: StageOptions): StagedContext {
    const scan = scanContext(opts.context, opts.dockerfile);
    const tree = stageSelection(scan, { entries: scan.entries, whole: "the whole context" }, opts.stageDir, opts.epoch);
    return stageDockerfile(tree, opts.dockerfile, opts.dockerfileName);
}

/**
 * Mirrors a selection of a scanned context into `stageDir/context`,
 * normalized; files whose size, mtime, ctime and inode are unchanged since
 * the last run are not read again. Done once for all the images that read
 * the same files of a context.
 */
export function stageSelection(scan: ContextScan, selection: Selection, stageDir: string, epoch: number): StagedTree {
    const started = process.hrtime.bigint();
    const contextDir = path.join(stageDir, "context");
    const manifestFile = path.join(stageDir, MANIFEST);
    const previous = readManifest(manifestFile);
    const at = new Date(epoch * 1000);
    fs.mkdirSync(contextDir, { recursive: true });

    const next: Record<string, Recorded> = {};
    const hash = createHash("sha256");
    const staged = new StagedListing(contextDir);
    let rewritten = Object.keys(previous).length !== selection.entries.length;
    let files = 0;
    let bytes = 0;
    const readDigests = new Map<string, string>();
    for (const entry of selection.entries) {
        const rec = previous[entry.path];
        const same = unchanged(entry, rec, staged);
        const digest = same ? rec!.sha256 : writeEntry(path.join(scan.root, entry.path), path.join(contextDir, entry.path), entry, at);
        rewritten ||= !same;
        next[entry.path] = same ? rec! : { size: entry.size, mtimeMs: entry.mtimeMs, ctimeMs: entry.ctimeMs, ino: entry.ino, mode: normalizedMode(entry), kind: entry.kind, sha256: digest };
        hash.update(`${entry.kind}\0${entry.path}\0${normalizedMode(entry).toString(8)}\0${digest}\n`);
        if (entry.kind !== "dir") {
            files += 1;
            bytes += entry.size;
            readDigests.set(entry.path, digest);
        }
    }
    // A no-op run (every entry as recorded, none gone) leaves the stage as it
    // is: on a big context, re-timing every directory and rewriting the
    // manifest were most of a no-op's cost.
    if (rewritten) {
        prune(contextDir, new Set(Object.keys(next)), previous);
        // Directory mtimes last: writing their children changed them.
        for (const entry of selection.entries.filter((e) => e.kind === "dir").reverse()) {
            fs.utimesSync(path.join(contextDir, entry.path), at, at);
        }
        fs.utimesSync(contextDir, at, at);
        fs.writeFileSync(manifestFile, JSON.stringify({ format: FORMAT, entries: next }));
    }
    const cwd = process.cwd();
    // For messages: relative inside the project, absolute outside it.
    const shown = (p: string) => (path.relative(cwd, p).startsWith("..") ? p : path.relative(cwd, p) || ".");
    return {
        stageDir,
        location: path.relative(cwd, contextDir) || ".",
        source: shown(scan.root),
        ignoreFile: scan.ignoreFile && shown(scan.ignoreFile),
        ignorePath: scan.ignoreFile,
        files: scan.files,
        bytes: scan.bytes,
        read: { files, bytes, ...(selection.whole !== undefined ? { whole: selection.whole } : {}) },
        readDigests,
        dirs: scan.dirs,
        hash,
        seconds: Number(process.hrtime.bigint() - started) / 1e9,
    };
}

/** Adds an image's Dockerfile (and the ignore file beside it) to a staged tree. */
export function stageDockerfile(tree: StagedTree, dockerfile: string | undefined, dockerfileName: string): StagedContext {
    const hash = tree.hash.copy();
    let stagedDockerfile = "";
    let dockerfileDigest = "";
    if (dockerfile !== undefined) {
        const content = fs.readFileSync(dockerfile);
        stagedDockerfile = path.join(tree.stageDir, dockerfileName);
        if (!fs.existsSync(stagedDockerfile) || !fs.readFileSync(stagedDockerfile).equals(content)) {
            fs.writeFileSync(stagedDockerfile, content);
        }
        // The provider and BuildKit re-apply the ignore file to the staged
        // copy: the same rules on an already-filtered tree change nothing, and
        // they keep the staged context from admitting more than the original.
        const ignoreCopy = `${stagedDockerfile}.dockerignore`;
        if (tree.ignorePath) {
            fs.copyFileSync(tree.ignorePath, ignoreCopy);
        } else {
            fs.rmSync(ignoreCopy, { force: true });
        }
        dockerfileDigest = sha256(content);
        hash.update(`dockerfile\0${dockerfileDigest}\n`);
    }
    const { location, source, ignoreFile, files, bytes, read, readDigests, dirs, seconds } = tree;
    return {
        location, source, ignoreFile, files, bytes, read, readDigests, dirs, seconds, dockerfileDigest,
        dockerfile: stagedDockerfile && path.relative(process.cwd(), stagedDockerfile),
        digest: hash.digest("hex"),
    };
}
