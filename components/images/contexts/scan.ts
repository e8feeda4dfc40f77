import { createHash } from "crypto";
import * as fs from "fs";
import * as path from "path";
import ignore from "@balena/dockerignore";

/** One entry of a build context that `.dockerignore` admits. */
export interface ContextEntry {
    /** Path relative to the context root, with `/` separators. */
    readonly path: string;
    readonly kind: "file" | "dir" | "symlink";
    /** Bytes (0 for directories). */
    readonly size: number;
    /** Permission bits as found on disk (umask-dependent; the stage normalizes them). */
    readonly mode: number;
    readonly mtimeMs: number;
    readonly ctimeMs: number;
    readonly ino: number;
}

/** Admitted files (and symlinks) below one directory, at any depth, and their bytes. */
export interface DirectoryTotals {
    /** Admitted files and symlinks. Required. */
    readonly files: number;
    /** Their bytes. Required. */
    readonly bytes: number;
}

/** What a build would send: the admitted entries of a context directory. */
export interface ContextScan {
    /** Absolute path of the context directory. */
    readonly root: string;
    /** Absolute path of the ignore file applied, if any. */
    readonly ignoreFile?: string;
    /** Admitted entries, sorted by path. */
    readonly entries: readonly ContextEntry[];
    /** Admitted regular files and symlinks. */
    readonly files: number;
    /** Bytes of the admitted files. */
    readonly bytes: number;
    /**
     * sha256 over what decides which entries a build can read: each entry's
     * path and kind, and each directory's mtime and inode (a file created,
     * removed or renamed in a directory changes its mtime, even one this walk
     * does not admit). Contents do not count: a changed file is still the same
     * entry.
     */
    readonly listing: string;
    /**
     * Totals per directory that holds admitted files (path relative to the
     * root, the root itself left out), counted during the same walk, so a
     * report on the context's size needs no second one.
     */
    readonly dirs: ReadonlyMap<string, DirectoryTotals>;
}

/**
 * The ignore file BuildKit applies: `<Dockerfile>.dockerignore` next to the
 * Dockerfile wins over `<context>/.dockerignore`.
 */
export function ignoreFileFor(contextDir: string, dockerfile?: string): string | undefined {
    const candidates = [...(dockerfile ? [`${dockerfile}.dockerignore`] : []), path.join(contextDir, ".dockerignore")];
    return candidates.find((f) => fs.existsSync(f) && fs.statSync(f).isFile());
}

/** Patterns of an ignore file, as Docker reads them (comments and blank lines dropped). */
export function readIgnorePatterns(file: string | undefined): string[] {
    if (file === undefined) {
        return [];
    }
    return fs.readFileSync(file, "utf8").split(/\r?\n/)
        .map((l) => l.trim())
        .filter((l) => l !== "" && !l.startsWith("#"));
}

/**
 * Whether a directory that matches an exclude pattern may still hold a file
 * that an exception (`!pattern`) re-admits. Docker walks into an excluded
 * directory only then; pruning the rest is what keeps an ignored
 * `node_modules` or `.git` from costing a walk.
 */
function mayReadmit(dir: string, exceptions: readonly string[]): boolean {
    return exceptions.some((pattern) => {
        const literal = pattern.replace(/^\/+/, "").split(/[*?[\\]/)[0];
        if (literal === "" || pattern.startsWith("**")) {
            return true;
        }
        return literal.startsWith(`${dir}/`) || `${dir}/`.startsWith(literal) || literal === dir;
    });
}

/**
 * Walks a context the way BuildKit sends it: entries the ignore file excludes
 * are left out, and excluded directories are not descended into unless an
 * exception pattern could re-admit something below them.
 */
export function scanContext(contextDir: string, dockerfile?: string): ContextScan {
    const root = path.resolve(contextDir);
    const ignoreFile = ignoreFileFor(root, dockerfile && path.resolve(dockerfile));
    const patterns = readIgnorePatterns(ignoreFile);
    const matcher = ignore().add(patterns);
    const exceptions = patterns.filter((p) => p.startsWith("!")).map((p) => p.slice(1));
    // Matching is a large share of a walk; without patterns nothing is ignored.
    const ignores = patterns.length > 0 ? (p: string) => matcher.ignores(p) : () => false;
    const entries: ContextEntry[] = [];
    const dirs = new Map<string, DirectoryTotals>();

    /** Walks one directory; returns the admitted files and bytes below it. */
    const walk = (rel: string): DirectoryTotals => {
        const dir = rel === "" ? root : path.join(root, rel);
        let files = 0;
        let bytes = 0;
        for (const name of fs.readdirSync(dir).sort()) {
            const childRel = rel === "" ? name : `${rel}/${name}`;
            const st = fs.lstatSync(path.join(dir, name));
            const ignored = ignores(childRel);
            const base = { path: childRel, mode: st.mode & 0o7777, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs, ino: st.ino };
            if (st.isDirectory()) {
                if (!ignored) {
                    entries.push({ ...base, kind: "dir", size: 0 });
                }
                if (!ignored || mayReadmit(childRel, exceptions)) {
                    const below = walk(childRel);
                    if (below.files > 0) {
                        dirs.set(childRel, below);
                    }
                    files += below.files;
                    bytes += below.bytes;
                }
            } else if ((st.isFile() || st.isSymbolicLink()) && !ignored) {
                entries.push({ ...base, kind: st.isFile() ? "file" : "symlink", size: st.size });
                files += 1;
                bytes += st.size;
            }
        }
        return { files, bytes };
    };
    const { files, bytes } = walk("");
    // A file re-admitted below an excluded directory needs that directory
    // (without exceptions, nothing is admitted below an excluded one).
    const admittedDirs = new Set(entries.filter((e) => e.kind === "dir").map((e) => e.path));
    for (const e of exceptions.length > 0 ? [...entries] : []) {
        for (let d = path.posix.dirname(e.path); d !== "."; d = path.posix.dirname(d)) {
            if (!admittedDirs.has(d)) {
                admittedDirs.add(d);
                const st = fs.lstatSync(path.join(root, d));
                entries.push({ path: d, kind: "dir", size: 0, mode: st.mode & 0o7777, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs, ino: st.ino });
            }
        }
    }
    entries.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    const listing = createHash("sha256");
    for (const e of entries) {
        listing.update(e.kind === "dir" ? `${e.path}\0dir\0${e.mtimeMs}\0${e.ino}\n` : `${e.path}\0${e.kind}\n`);
    }
    const top = fs.statSync(root);
    listing.update(`\0root\0${top.mtimeMs}\0${top.ino}\n`);
    return { root, ignoreFile, entries, files, bytes, dirs, listing: listing.digest("hex") };
}
