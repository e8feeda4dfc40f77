import { createHash } from "crypto";
import * as fs from "fs";
import * as path from "path";
import { ignoreFileFor } from "./context";
import { tagSafe } from "./policy";
import { StagedContext, stageDockerfile, StagedTree, stageTree } from "./stage";
import { ImageSpec } from "./types";

/**
 * Default root of staged contexts, relative to the working directory: inside
 * `node_modules` so no project has to ignore it in git, and relative so the
 * path a resource records is the same in every clone.
 */
export const DEFAULT_STAGE_DIR = path.join("node_modules", ".cache", "imagefleet", "contexts");

/** Days a staged copy may go unused before a run of its family removes it. */
export const STALE_DAYS = 7;

/**
 * Stages the contexts of one family, once per distinct (context, ignore file)
 * pair: images that share a context (the example's three) share one copy,
 * and a monorepo context is not copied once per image.
 */
export class ContextStager {
    /** Staged trees by stage directory: one walk per context and ignore file, however many images share it. */
    private readonly trees = new Map<string, StagedTree>();
    private readonly staged = new Map<string, StagedContext>();

    constructor(
        /** Root for this family and stack, relative to the working directory. */
        private readonly root: string,
        /** Where relative contexts are found. Default: the working directory. */
        private readonly baseDir: string | undefined,
        private readonly epoch: number,
    ) {}

    /** The staged context and Dockerfile of an image. */
    image(spec: ImageSpec): StagedContext {
        const context = this.resolve(spec.context);
        const dockerfile = path.join(context, spec.dockerfile ?? "Dockerfile");
        return this.stage(context, dockerfile, `${spec.name}.Dockerfile`);
    }

    /** A local directory used as a named context (StarRocks' `ARTIFACT_SOURCE=local`). */
    local(dir: string): StagedContext {
        return this.stage(this.resolve(dir), undefined, "");
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

    private stage(context: string, dockerfile: string | undefined, dockerfileName: string): StagedContext {
        const ignore = ignoreFileFor(context, dockerfile);
        const rel = (p: string | undefined) => (p === undefined ? "" : path.relative(process.cwd(), p));
        // Named by the context's path as written in the project, so a clone
        // elsewhere stages to the same relative place.
        const id = createHash("sha256").update(`${rel(context)}\0${rel(ignore)}`).digest("hex").slice(0, 8);
        const dir = path.join(this.root, `${tagSafe(path.basename(context), 40)}-${id}`);
        const key = `${dir}\0${dockerfileName}`;
        let result = this.staged.get(key);
        if (!result) {
            try {
                let tree = this.trees.get(dir);
                if (!tree) {
                    tree = stageTree({ context, dockerfile, stageDir: dir, epoch: this.epoch });
                    this.trees.set(dir, tree);
                }
                result = stageDockerfile(tree, dockerfile, dockerfileName);
            } catch (err) {
                throw new Error(`could not stage the build context ${JSON.stringify(rel(context))} into ${dir}: ${(err as Error).message}`, { cause: err });
            }
            this.staged.set(key, result);
        }
        return result;
    }
}
