// Generated build contexts for the context-report tests and bench/contexts.ts.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

/** Files directly in one directory of a generated tree: how many and how big each is. */
export interface DirSpec {
    /** Number of files. Required. */
    readonly files: number;
    /** Bytes of each file. Required. */
    readonly size: number;
}

export interface TreeOptions {
    /**
     * Hard-link every file of a size to one source (outside the tree): a
     * 100k-file tree in under a second on tmpfs, for tests that only walk it.
     * Off: every file is written with its own content (what a benchmark that
     * hashes and copies the files needs). Default: `false`.
     */
    readonly link?: boolean;
    /** Extra files by path (e.g. a Dockerfile or .dockerignore). Default: none. */
    readonly extra?: Readonly<Record<string, string>>;
}

/** A temp directory on tmpfs when the machine has one (creating 100k files there is 3-5x faster). */
export function fastTmpDir(prefix: string): string {
    const base = fs.existsSync("/dev/shm") && fs.statSync("/dev/shm").isDirectory() ? "/dev/shm" : os.tmpdir();
    return fs.mkdtempSync(path.join(base, prefix));
}

/**
 * Writes a tree: `{ "data/a": { files: 1000, size: 10 } }` makes data/a/f00000 … f00999.
 * Returns the number of files and bytes written.
 */
export function generateTree(root: string, dirs: Readonly<Record<string, DirSpec>>, options: TreeOptions = {}): { files: number; bytes: number } {
    let files = 0;
    let bytes = 0;
    const sources = new Map<number, string>();
    const sourceOf = (size: number): string => {
        let file = sources.get(size);
        if (!file) {
            const dir = `${root}.sources`;
            fs.mkdirSync(dir, { recursive: true });
            file = path.join(dir, String(size));
            fs.writeFileSync(file, Buffer.alloc(size, 0x61));
            sources.set(size, file);
        }
        return file;
    };
    for (const [dir, spec] of Object.entries(dirs)) {
        const at = path.join(root, dir);
        fs.mkdirSync(at, { recursive: true });
        for (let i = 0; i < spec.files; i++) {
            const file = path.join(at, `f${String(i).padStart(5, "0")}`);
            if (options.link) {
                fs.linkSync(sourceOf(spec.size), file);
            } else {
                // Distinct content per file, so nothing downstream can share work between them.
                const data = Buffer.alloc(spec.size, 0x61);
                data.write(`${dir}/${i}\n`.slice(0, spec.size));
                fs.writeFileSync(file, data);
            }
            files += 1;
            bytes += spec.size;
        }
    }
    for (const [file, content] of Object.entries(options.extra ?? {})) {
        fs.mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
        fs.writeFileSync(path.join(root, file), content);
    }
    return { files, bytes };
}

/** Removes a generated tree and its link sources. */
export function removeTree(root: string): void {
    fs.rmSync(root, { recursive: true, force: true });
    fs.rmSync(`${root}.sources`, { recursive: true, force: true });
}
