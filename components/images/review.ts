import { createHash } from "crypto";
import * as fs from "fs";
import * as pulumi from "@pulumi/pulumi";
import { PlannedImage } from "./buildPlan";
import { CheckFinding } from "./checks";
import { Platform } from "./platforms";

/**
 * What a pull request's reviewer needs from a preview: per image, whether it
 * rebuilds, only gets new tags, or stays as it is, and why it rebuilds. Each
 * run records what every build was built from (`BuildRecord`, a stack output
 * the next run reads back through a StackReference to its own stack); the
 * next run compares its own plan with that record.
 */

/** What one per-platform build was built from, compactly. */
export interface BuildRecord {
    /** The build's fingerprint (12 hex): when it differs, the build runs. */
    readonly f: string;
    /** sha256 (12 hex) of the Dockerfile. */
    readonly d: string;
    /** The Dockerfile as the spec gives it, for messages. */
    readonly df: string;
    /** Target stage, `""` for the last. */
    readonly t: string;
    /** Build arg name → sha256 (12 hex) of its value (values may be credentials). */
    readonly a: Readonly<Record<string, string>>;
    /** Named context → `image:<key>` or `local:<12 hex of the staged files>`. */
    readonly n: Readonly<Record<string, string>>;
    /** Each file the build reads → sha256 (12 hex); or, when it reads more than `MAX_FILES`, each top-level directory's. */
    readonly r: Readonly<Record<string, string>>;
    /** The commit's tag the build was published under (`<sha12>[-variant]`). */
    readonly tag: string;
    /** The builder of its platform's pool that builds it; absent when only an Output names it. */
    readonly b?: string;
    /** What decides the content (12 hex): the fingerprint without the shared settings (cache refs, push). Absent in records of before 0.1. */
    readonly c?: string;
}

/** A family's record: image key → platform → build. */
export type InputsRecord = Readonly<Record<string, Readonly<Partial<Record<Platform, BuildRecord>>>>>;

/**
 * `settings only`: the build runs again because a setting every build shares
 * changed (cache refs, push), but what it is built from did not: the same
 * digest comes out, and nothing built from it rebuilds.
 */
export type ReviewStatus = "rebuild" | "settings only" | "new tags only" | "unchanged";

/** The statuses in the order a review counts them. */
export const REVIEW_STATUSES: readonly ReviewStatus[] = ["rebuild", "settings only", "new tags only", "unchanged"];

/** One row of the review table: an image (and variant) on its platforms. */
export interface ReviewRow {
    /** `image[-variant]`. */
    readonly image: string;
    readonly platforms: readonly Platform[];
    readonly status: ReviewStatus;
    /** Why it rebuilds, or that only settings changed (empty otherwise), each naming the platforms when they differ. */
    readonly reasons: readonly string[];
}

/** Above this many files, a build's reads are recorded per top-level directory: the record stays small. */
export const MAX_FILES = 200;
/** Paths named per reason; the rest are counted. */
const SHOWN = 3;

const short = (hex: string) => hex.replace(/^sha256:/, "").slice(0, 12);
const hash = (value: string) => createHash("sha256").update(value).digest("hex").slice(0, 12);

/** The reads of a build: per file, or per top-level directory when there are many. */
function readsOf(digests: ReadonlyMap<string, string>): Record<string, string> {
    const entries = [...digests].sort(([a], [b]) => (a < b ? -1 : 1));
    if (entries.length <= MAX_FILES) {
        return Object.fromEntries(entries.map(([p, d]) => [p, short(d)]));
    }
    const dirs = new Map<string, ReturnType<typeof createHash>>();
    for (const [p, d] of entries) {
        const top = p.includes("/") ? `${p.split("/")[0]}/` : p;
        dirs.set(top, (dirs.get(top) ?? createHash("sha256")).update(`${p}\0${d}\n`));
    }
    return Object.fromEntries([...dirs].map(([p, h]) => [p, h.digest("hex").slice(0, 12)]));
}

/** The record of this run's plan. */
export function recordOf(plan: readonly PlannedImage[], tagOf: (p: PlannedImage) => string, dockerfileOf: (p: PlannedImage) => string,
    builderOf: (p: PlannedImage, platform: Platform) => string | undefined = () => undefined): InputsRecord {
    return Object.fromEntries(plan.map((p) => [p.key, Object.fromEntries(p.platforms.map((platform) => {
        const staged = p.staged[platform]!;
        const named = Object.fromEntries(p.deps.map((d) => [d.context, "local" in d ? `local:${short(d.local[platform]!.digest)}` : `image:${d.image}`]));
        return [platform, {
            f: short(p.fingerprints[platform]!), c: short(p.contents[platform]!), d: short(staged.dockerfileDigest), df: dockerfileOf(p), t: p.spec.target ?? "",
            a: Object.fromEntries(Object.entries(p.buildArgs).map(([k, v]) => [k, hash(v)])),
            n: named, r: readsOf(staged.readDigests), tag: tagOf(p),
            ...(builderOf(p, platform) === undefined ? {} : { b: builderOf(p, platform) }),
        } satisfies BuildRecord];
    }))]));
}

function listed(paths: readonly string[]): string {
    const shown = paths.slice(0, SHOWN).join(", ");
    return paths.length > SHOWN ? `${shown} and ${paths.length - SHOWN} more` : shown;
}

/** Why one build rebuilds, comparing its record with the previous one; `rebuilding` says which other builds rebuild. */
function reasonsFor(before: BuildRecord | undefined, now: BuildRecord, rebuilding: (key: string) => boolean): string[] {
    if (before === undefined) {
        return ["not built before"];
    }
    const reasons: string[] = [];
    if (before.d !== now.d) {
        reasons.push(`${now.df} changed`);
    }
    const files = [...new Set([...Object.keys(before.r), ...Object.keys(now.r)])].filter((p) => before.r[p] !== now.r[p]).sort();
    if (files.length > 0) {
        reasons.push(`${files.length === 1 ? "a file it reads changed" : `${files.length} files it reads changed`}: ${listed(files)}`);
    }
    for (const arg of [...new Set([...Object.keys(before.a), ...Object.keys(now.a)])].sort()) {
        if (before.a[arg] !== now.a[arg]) {
            reasons.push(`build arg ${arg} ${before.a[arg] === undefined ? "added" : now.a[arg] === undefined ? "removed" : "changed"}`);
        }
    }
    if (before.t !== now.t) {
        reasons.push(`target ${now.t === "" ? "is now the last stage" : `is now ${now.t}`}`);
    }
    for (const [ctx, src] of Object.entries(now.n)) {
        if (src.startsWith("image:") && (rebuilding(src.slice("image:".length)) || before.n[ctx] !== src)) {
            reasons.push(`builds from ${src.slice("image:".length)}, which rebuilds`);
        } else if (before.n[ctx] !== src) {
            reasons.push(`named context ${ctx} changed`);
        }
    }
    if (before.f === now.f && before.b !== undefined && now.b !== undefined && before.b.toLowerCase() !== now.b.toLowerCase()) {
        reasons.push(`moves from builder ${before.b} to ${now.b} (the pool changed; its inputs did not)`);
    }
    if (reasons.length === 0) {
        reasons.push("its build settings changed (cache refs, push or the named contexts' sources)");
    }
    return reasons;
}

/** The review table: one row per image key, in build order. */
export function review(previous: InputsRecord | undefined, current: InputsRecord): ReviewRow[] {
    const rebuilds = new Map<string, Set<Platform>>();
    const rows: ReviewRow[] = [];
    for (const [key, builds] of Object.entries(current)) {
        const platforms = Object.keys(builds) as Platform[];
        const perPlatform = platforms.map((platform) => {
            const now = builds[platform]!;
            const before = previous?.[key]?.[platform];
            // A build that moves to another builder of its pool runs there
            // (its Image's builder changes), though its inputs did not.
            const moves = before?.b !== undefined && now.b !== undefined && before.b.toLowerCase() !== now.b.toLowerCase();
            const changed = before === undefined || before.f !== now.f;
            // Only the shared settings changed: the build runs, and gives the digest it gave.
            const settingsOnly = changed && !moves && before?.c !== undefined && before.c === now.c;
            const rebuild = (changed && !settingsOnly) || moves;
            // A move builds the same inputs to the same digest: what builds from it does not rebuild.
            if (changed && !settingsOnly) {
                rebuilds.set(key, (rebuilds.get(key) ?? new Set()).add(platform));
            }
            const reasons = rebuild ? reasonsFor(before, now, (k) => rebuilds.get(k)?.has(platform) ?? false)
                : settingsOnly ? ["same content: only the settings every build shares changed (cache refs or push)"] : [];
            return { platform, rebuild, settingsOnly, moved: before !== undefined && before.tag !== now.tag, reasons };
        });
        const rebuilt = perPlatform.filter((p) => p.rebuild);
        const settled = perPlatform.filter((p) => p.settingsOnly);
        const status: ReviewStatus = rebuilt.length > 0 ? "rebuild" : settled.length > 0 ? "settings only"
            : perPlatform.some((p) => p.moved) || previous?.[key] === undefined ? "new tags only" : "unchanged";
        const explained = rebuilt.length > 0 ? rebuilt : settled;
        // A reason shared by every rebuilding platform is said once; others name their platforms.
        const reasons = [...new Set(explained.flatMap((p) => p.reasons))].map((r) => {
            const on = explained.filter((p) => p.reasons.includes(r)).map((p) => p.platform);
            return on.length === platforms.length ? r : `${r} (${on.join(", ")})`;
        });
        rows.push({ image: key, platforms, status, reasons });
    }
    return rows;
}

/** `1 rebuild, 3 new tags only, 0 unchanged`; the settings-only count when there are any. */
export function reviewCounts(rows: readonly { readonly status: string }[]): string {
    return REVIEW_STATUSES.filter((s) => s !== "settings only" || rows.some((r) => r.status === s))
        .map((s) => `${rows.filter((r) => r.status === s).length} ${s}`).join(", ");
}

/** The table as lines for a log: `runtime  linux/amd64, linux/arm64  rebuild  runtime.Dockerfile changed`. */
export function reviewLines(rows: readonly ReviewRow[]): string[] {
    const width = Math.max(5, ...rows.map((r) => r.image.length));
    return rows.map((r) => `${r.image.padEnd(width)}  ${r.status.padEnd(13)}  ${r.platforms.join(", ")}${r.reasons.length > 0 ? `: ${r.reasons.join("; ")}` : ""}`);
}

/** Reads a record back from a stack output (a JSON string), or undefined when there is none or it does not parse. */
export function parseRecord(value: unknown): InputsRecord | undefined {
    if (typeof value !== "string" || value === "") {
        return undefined;
    }
    try {
        const parsed = JSON.parse(value) as { v?: number; images?: InputsRecord };
        return parsed.v === RECORD_VERSION ? parsed.images : undefined;
    } catch {
        return undefined;
    }
}

export const RECORD_VERSION = 1;

export function formatRecord(record: InputsRecord): string {
    return JSON.stringify({ v: RECORD_VERSION, images: record });
}

/**
 * Prints the review on the family (a preview's diagnostics show it under the
 * family), and, when `IMAGEFLEET_REVIEW_FILE` names a file, adds this
 * family's rows to it (JSON), for the pull request's comment
 * (`scripts/review.ts`).
 */
export function logReview(resource: pulumi.Resource, family: string, rows: readonly ReviewRow[], checks: Readonly<Record<string, readonly CheckFinding[]>>,
    env: NodeJS.ProcessEnv = process.env): void {
    if (pulumi.runtime.getEngine() === undefined) {
        return;
    }
    if (rows.length > 0) {
        const counts = reviewCounts(rows);
        void pulumi.log.info(`review (${counts}):\n${reviewLines(rows).join("\n")}`, resource);
    }
    const file = env.IMAGEFLEET_REVIEW_FILE;
    if (file) {
        let doc: { stack?: string; families?: Record<string, { rows: readonly ReviewRow[]; checks: Readonly<Record<string, readonly CheckFinding[]>> }> } = {};
        try {
            doc = JSON.parse(fs.readFileSync(file, "utf8"));
        } catch {
            // A new file.
        }
        doc = { stack: pulumi.getStack(), families: { ...doc.families, [family]: { rows, checks } } };
        fs.writeFileSync(file, JSON.stringify(doc, null, 2));
    }
}
