import { createHash } from "crypto";
import * as fs from "fs";
import * as path from "path";
import { Platform } from "../platforms";
import { tagSafe } from "../policy";
import { ImageSpec } from "../types";
import { DockerfileChecks, FrontendRequest, FrontendResponse } from "./frontend";
import { answerRequests, RequestScans, selectionOf } from "./reads";
import { ContextScan, ignoreFileFor, scanContext } from "./scan";
import { StagedContext, stageDockerfile, StagedTree, stageSelection } from "./stage";

/**
 * Default root of staged contexts, relative to the working directory: inside
 * `node_modules` so no project has to ignore it in git, and relative so the
 * path a resource records is the same in every clone.
 */
export const DEFAULT_STAGE_DIR = path.join("node_modules", ".cache", "imagefleet", "contexts");

/** Days a staged copy may go unused before a run of its family removes it. */
export const STALE_DAYS = 7;

/** One build of a family, as the frontend is asked about it. */
export interface BuildRequest {
    /** Unique within the family's run, e.g. `runtime-perf linux/amd64`. Required. */
    readonly key: string;
    /** The image. Required. */
    readonly spec: ImageSpec;
    /** The one platform built. Required. */
    readonly platform: Platform;
    /** Merged build args. Required. */
    readonly buildArgs: Readonly<Record<string, string>>;
    /** Named contexts: another image of the family (its content is not read here) or a local directory. Required (may be empty). */
    readonly named: Readonly<Record<string, { readonly image: string } | { readonly local: string }>>;
}

/** What one build reads, staged. */
export interface StagedBuild {
    /** The files of its context it reads, and its Dockerfile. */
    readonly context: StagedContext;
    /** The files of each named local context it reads, by context name. */
    readonly named: Readonly<Record<string, StagedContext>>;
    /** BuildKit's Dockerfile checks for this build. */
    readonly lint: DockerfileChecks;
    /** A `# syntax=` directive the build names, if any. */
    readonly syntax?: FrontendResponse["syntax"];
}

/** A build the frontend refused (no such target, a syntax error): the family reports it before declaring anything. */
export interface RefusedBuild {
    readonly key: string;
    readonly spec: ImageSpec;
    readonly platform: Platform;
    /** The frontend's words. */
    readonly error: string;
}

/**
 * Stages what each build of one family reads. BuildKit's Dockerfile frontend
 * says which files of its context (and of its named local contexts) a build
 * reads; only those are staged, so only they decide its fingerprint and the
 * provider's `contextHash`. Builds that read the same files of a context
 * share one staged copy, and each context is walked once however many
 * images share it (a monorepo root is not copied per image).
 */
export class ContextStager {
    /** Staged selections by stage directory. */
    private readonly trees = new Map<string, StagedTree>();
    /** Scans by context directory and ignore file. */
    private readonly scans = new Map<string, ContextScan>();

    constructor(
        /** Root for this family and stack, relative to the working directory. */
        private readonly root: string,
        /** Where relative contexts are found. Default: the working directory. */
        private readonly baseDir: string | undefined,
        private readonly epoch: number,
    ) {}

    /** Stages every build, asking the frontend once for all builds it has no cached answer for. */
    stageBuilds(builds: readonly BuildRequest[]): { staged: Map<string, StagedBuild>; refused: RefusedBuild[] } {
        const asked = builds.map((b) => {
            const context = this.resolve(b.spec.context);
            const dockerfile = path.join(context, b.spec.dockerfile ?? "Dockerfile");
            const named: Record<string, { local: string } | { image: string }> = {};
            const locals: Record<string, ContextScan> = {};
            for (const [n, src] of Object.entries(b.named)) {
                if ("local" in src) {
                    named[n] = { local: this.resolve(src.local) };
                    locals[n] = this.scan(named[n].local);
                } else {
                    named[n] = { image: src.image };
                }
            }
            const request: FrontendRequest = {
                id: b.key, dockerfile, context, platform: b.platform, buildArgs: b.buildArgs,
                ...(b.spec.target !== undefined ? { target: b.spec.target } : {}), named, lint: true, files: true,
            };
            const scans: RequestScans = { context: this.scan(context, dockerfile), named: locals };
            return { build: b, request, scans };
        });
        const answers = answerRequests(this.root, asked);
        const staged = new Map<string, StagedBuild>();
        const refused: RefusedBuild[] = [];
        asked.forEach(({ build, request, scans }, i) => {
            const answer = answers[i];
            if (answer.error !== undefined) {
                refused.push({ key: build.key, spec: build.spec, platform: build.platform, error: answer.error });
                return;
            }
            // Another frontend would decide what is read: stage all that is admitted.
            const forwarded = answer.syntax && !answer.syntax.builtin
                ? `# syntax=${answer.syntax.ref} (line ${answer.syntax.line}), a frontend other than BuildKit's built-in one`
                : undefined;
            const stage = (scan: ContextScan, local: string, dockerfile?: string, dockerfileName = "") =>
                stageDockerfile(this.stageTree(scan, selectionOf(scan, answer.locals?.[local], forwarded)), dockerfile, dockerfileName);
            staged.set(build.key, {
                context: stage(scans.context, "context", request.dockerfile, `${build.spec.name}.Dockerfile`),
                named: Object.fromEntries(Object.entries(scans.named).map(([n, scan]) => [n, stage(scan, n)])),
                lint: answer.lint ?? { warnings: [] },
                ...(answer.syntax ? { syntax: answer.syntax } : {}),
            });
        });
        return { staged, refused };
    }

    /**
     * Removes this family's staged copies that no run has used for `maxAgeDays`
     * (a context renamed or moved; a big one would otherwise stay on disk), and
     * marks the ones this run used as fresh. Each copy is the unit: a copy in
     * use by another run of this stack is at most that old, so it is kept.
     */
    pruneStale(maxAgeDays = STALE_DAYS): string[] {
        const now = new Date();
        for (const dir of this.trees.keys()) {
            fs.utimesSync(dir, now, now);
        }
        const removed: string[] = [];
        const entries = fs.existsSync(this.root) ? fs.readdirSync(this.root, { withFileTypes: true }) : [];
        for (const entry of entries.filter((e) => e.isDirectory())) {
            const dir = path.join(this.root, entry.name);
            if (!this.trees.has(dir) && now.getTime() - fs.statSync(dir).mtimeMs > maxAgeDays * 86_400_000) {
                fs.rmSync(dir, { recursive: true, force: true });
                removed.push(dir);
            }
        }
        return removed;
    }

    private resolve(dir: string): string {
        return path.resolve(this.baseDir ?? process.cwd(), dir);
    }

    private scan(context: string, dockerfile?: string): ContextScan {
        const key = `${context}\0${ignoreFileFor(context, dockerfile) ?? ""}`;
        let scan = this.scans.get(key);
        if (!scan) {
            scan = scanContext(context, dockerfile);
            this.scans.set(key, scan);
        }
        return scan;
    }

    private stageTree(scan: ContextScan, selection: ReturnType<typeof selectionOf>): StagedTree {
        const rel = (p: string | undefined) => (p === undefined ? "" : path.relative(process.cwd(), p));
        // Named by the context's path as written in the project and by what
        // is read of it, so a clone elsewhere stages to the same relative place.
        const id = createHash("sha256").update(`${rel(scan.root)}\0${rel(scan.ignoreFile)}\0${selection.key}`).digest("hex").slice(0, 8);
        const dir = path.join(this.root, `${tagSafe(path.basename(scan.root), 40)}-${id}`);
        let tree = this.trees.get(dir);
        if (!tree) {
            try {
                tree = stageSelection(scan, selection, dir, this.epoch);
            } catch (err) {
                throw new Error(`could not stage the build context ${JSON.stringify(rel(scan.root))} into ${dir}: ${(err as Error).message}`, { cause: err });
            }
            this.trees.set(dir, tree);
        }
        return tree;
    }
}
