import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { DirectoryTotals } from "./scan";
import { StagedContext } from "./stage";

/**
 * Sizes above which a build context is reported as too big. Every preview
 * and update walks every file the ignore file admits (to learn which of them
 * each build reads), and a build that reads its whole context stages, hashes
 * and sends all of it, so a context this big costs on every run.
 */
export interface ContextLimits {
    /** Bytes admitted by the ignore file. Default: 104857600 (100 MiB). */
    readonly maxBytes?: number;
    /** Files (and symlinks) admitted by the ignore file. Default: 20000. */
    readonly maxFiles?: number;
}

export const DEFAULT_CONTEXT_LIMITS: Required<ContextLimits> = { maxBytes: 100 * 1024 * 1024, maxFiles: 20_000 };

/** Directories a build almost never needs, that grow without bound, and that belong in every ignore file. */
export const HEAVY_DIRECTORIES: readonly string[] = [".git", "node_modules"];

/** How many of the largest directories a report names. */
const LARGEST = 3;

/** A directory of a context with what it holds (at any depth) after the ignore file. */
export interface DirectoryReport extends DirectoryTotals {
    /** Path relative to the context, with `/` separators. Required. */
    readonly path: string;
}

/** What an image's builds read of its context: only these files are staged, fingerprinted and sent. */
export interface ReadReport {
    /** Files (and symlinks) read. Required. */
    readonly files: number;
    /** Their bytes. Required. */
    readonly bytes: number;
    /** Why the whole admitted context is read (`COPY . /app (line 3)`). Default: none (only some files are). */
    readonly whole?: string;
}

/** An image's build context after its ignore file, and what the image reads of it. */
export interface ContextReport {
    /** The context directory: relative to the working directory when inside it, else absolute. Required. */
    readonly context: string;
    /** The ignore file applied, shown like `context`. Default: none (no ignore file). */
    readonly ignoreFile?: string;
    /** Admitted files and symlinks. Required. */
    readonly files: number;
    /** Admitted bytes. Required. */
    readonly bytes: number;
    /** What the image's builds read of it (the largest of its platforms' and variants'). Required. */
    readonly read: ReadReport;
    /** The directories holding most of it, largest first, by the measure over its limit (bytes when none is). Required. */
    readonly largest: readonly DirectoryReport[];
    /** `.git` and `node_modules` directories the ignore file lets through, largest first. Required (may be empty). */
    readonly unexcluded: readonly DirectoryReport[];
    /** One sentence per problem; empty when the context is within its limits and admits neither. Required. */
    readonly warnings: readonly string[];
}

/** `1.3 KiB`, `97.7 MiB`: binary units, one decimal. */
export function formatBytes(bytes: number): string {
    const units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let value = bytes;
    let unit = 0;
    while (value >= 1024 && unit < units.length - 1) {
        value /= 1024;
        unit += 1;
    }
    return unit === 0 ? `${bytes} B` : `${value.toFixed(1)} ${units[unit]}`;
}

function count(n: number): string {
    return n.toLocaleString("en-US");
}

function describe(d: DirectoryReport, total?: DirectoryTotals, measure?: keyof DirectoryTotals): string {
    const share = total && measure && total[measure] > 0 ? `, ${Math.round((100 * d[measure]) / total[measure])} %` : "";
    return `${d.path}/ (${count(d.files)} files, ${formatBytes(d.bytes)}${share})`;
}

/** What an image reads of its context: `reads 4 of 7 files (1.3 KiB)`, `reads all 7 files (…): COPY . /app (line 3)`. */
export function readLine(r: Pick<ContextReport, "files" | "read">): string {
    if (r.read.whole !== undefined) {
        return `reads all ${count(r.read.files)} files (${formatBytes(r.read.bytes)}): ${r.read.whole}`;
    }
    return r.read.files === 0 ? `reads none of ${count(r.files)} files` : `reads ${count(r.read.files)} of ${count(r.files)} files (${formatBytes(r.read.bytes)})`;
}

/** The tree line of `npm run synth`: `context: reads 4 of 7 files (1.3 KiB)`. */
export function contextLine(r: Pick<ContextReport, "files" | "read">): string {
    return `context: ${readLine(r)}`;
}

/**
 * The largest directories by one measure. Each top-level directory is named
 * by the deepest directory that holds nearly all of it (80 %): one child
 * that is the whole of its parent (`src/main/java` of `src`) says more about
 * what to exclude than the parent does.
 */
export function largestDirectories(dirs: ReadonlyMap<string, DirectoryTotals>, measure: keyof DirectoryTotals, limit = LARGEST): DirectoryReport[] {
    const children = new Map<string, string[]>();
    for (const p of dirs.keys()) {
        const parent = path.posix.dirname(p);
        const key = parent === "." ? "" : parent;
        children.set(key, [...(children.get(key) ?? []), p]);
    }
    const size = (p: string) => dirs.get(p)![measure];
    const dominant = (p: string): string => {
        const kids = children.get(p) ?? [];
        const top = kids.reduce<string | undefined>((best, k) => (best === undefined || size(k) > size(best) ? k : best), undefined);
        return top !== undefined && size(top) >= 0.8 * size(p) && size(top) > 0 ? dominant(top) : p;
    };
    return (children.get("") ?? [])
        .map(dominant)
        .sort((a, b) => size(b) - size(a) || (a < b ? -1 : 1))
        .slice(0, limit)
        .map((p) => ({ path: p, ...dirs.get(p)! }));
}

/** `.git` and `node_modules` directories that hold admitted files, outermost only, largest first. */
export function unexcludedDirectories(dirs: ReadonlyMap<string, DirectoryTotals>): DirectoryReport[] {
    const heavy = [...dirs.keys()].filter((p) => HEAVY_DIRECTORIES.includes(path.posix.basename(p))).sort();
    return heavy
        .filter((p) => !heavy.some((outer) => p.startsWith(`${outer}/`)))
        .map((p) => ({ path: p, ...dirs.get(p)! }))
        .sort((a, b) => b.bytes - a.bytes || b.files - a.files);
}

/** What one staged context holds and its build reads, measured against its limits. */
export function contextReport(staged: Pick<StagedContext, "source" | "ignoreFile" | "files" | "bytes" | "dirs" | "read">, limits: ContextLimits = {}): ContextReport {
    const maxFiles = limits.maxFiles ?? DEFAULT_CONTEXT_LIMITS.maxFiles;
    const maxBytes = limits.maxBytes ?? DEFAULT_CONTEXT_LIMITS.maxBytes;
    const overFiles = staged.files > maxFiles;
    const overBytes = staged.bytes > maxBytes;
    // Name directories by what is over: bytes when both are (they cost the
    // provider's hashing and the transfer), files when only they are.
    const measure: keyof DirectoryTotals = overFiles && !overBytes ? "files" : "bytes";
    const largest = largestDirectories(staged.dirs, measure);
    const unexcluded = unexcludedDirectories(staged.dirs);
    const ignore = staged.ignoreFile ?? path.join(staged.source, ".dockerignore");
    const after = staged.ignoreFile ? `after ${staged.ignoreFile}` : "with no .dockerignore";
    const warnings: string[] = [];
    if (overFiles || overBytes) {
        const over = [
            ...(overFiles ? [`${count(staged.files)} files (limit ${count(maxFiles)}, contextLimits.maxFiles)`] : [`${count(staged.files)} files`]),
            ...(overBytes ? [`${formatBytes(staged.bytes)} (limit ${formatBytes(maxBytes)}, contextLimits.maxBytes)`] : [`${formatBytes(staged.bytes)}`]),
        ];
        const where = largest.length > 0 ? `; largest directories: ${largest.map((d) => describe(d, staged, measure)).join(", ")}` : "";
        warnings.push(`context ${JSON.stringify(staged.source)} admits ${over.join(" and ")} ${after}${where}. `
            + `Every preview and update walks all of it: exclude what no Dockerfile reads in ${ignore}.`);
    }
    if (unexcluded.length > 0) {
        const names = unexcluded.map((d) => describe(d)).join(" and ");
        const entries = unexcluded.map((d) => d.path).join(" and ");
        warnings.push(`context ${JSON.stringify(staged.source)} admits ${names} ${after}: add ${entries} to ${ignore}.`);
    }
    return { context: staged.source, ignoreFile: staged.ignoreFile, files: staged.files, bytes: staged.bytes, read: staged.read, largest, unexcluded, warnings };
}

/**
 * Reports the context of every image of a family and logs it on the family
 * (what `pulumi preview` and `up` print under the component): per context,
 * one info line with what it admits and what each image reads of it, and its
 * warnings once. Returns the reports by image name.
 */
export function reportContexts(
    resource: pulumi.Resource,
    images: readonly { readonly image: string; readonly staged: Readonly<Partial<Record<string, StagedContext>>> }[],
    limits?: ContextLimits,
): Record<string, ContextReport> {
    const reports: Record<string, ContextReport> = {};
    const shared = new Map<string, { report: ContextReport; seconds: number; images: string[] }>();
    for (const { image, staged } of images) {
        // The largest read of the image's platforms and variants.
        for (const s of Object.values(staged)) {
            const report = contextReport(s!, limits);
            const before = reports[image];
            if (before === undefined || report.read.files > before.read.files) {
                reports[image] = report;
            }
            const key = `${s!.source}\0${s!.ignoreFile ?? ""}`;
            const group = shared.get(key) ?? { report, seconds: 0, images: [] };
            group.seconds += s!.seconds;
            if (!group.images.includes(image)) {
                group.images.push(image);
            }
            shared.set(key, group);
        }
    }
    // Only to an engine: under mocks Pulumi prints log lines to stdout and
    // stderr, into every consumer's test output; synth and tests read the
    // reports (`ImageFamily.contexts`) instead.
    if (pulumi.runtime.getEngine() === undefined) {
        return reports;
    }
    for (const { report, seconds, images: names } of shared.values()) {
        const of = `${names.length === 1 ? "image" : "images"} ${names.join(", ")}`;
        const ignore = report.ignoreFile ? `after ${report.ignoreFile}` : "no .dockerignore";
        const reads = names.map((n) => `${n} ${readLine(reports[n])}`).join("; ");
        void pulumi.log.info(`context: ${count(report.files)} files, ${formatBytes(report.bytes)} (${report.context}, ${ignore}; staged in ${seconds.toFixed(2)} s): ${reads}`, resource);
        for (const warning of report.warnings) {
            void pulumi.log.warn(`${of}: ${warning}`, resource);
        }
    }
    return reports;
}
