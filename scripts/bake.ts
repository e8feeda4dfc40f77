// npm run bake -- --stack <name> [--out FILE] [--config key=value ...]
// Writes the stack's image graph as a `docker buildx bake` JSON file, derived
// from the very `Image` inputs the program declares (evaluated under mocks),
// so `docker buildx bake -f FILE` runs the exact build without Pulumi state.
import * as fs from "fs";
import * as path from "path";
import { parseStackArgs, runMain } from "./harness/cli";
import { evaluateStack } from "./harness/evaluateStack";
import { Recorded, unwrapSecrets } from "./harness/mocks";

export interface BakeTarget {
    context: string;
    dockerfile: string;
    target?: string;
    args?: Record<string, string>;
    platforms: string[];
    tags: string[];
    labels?: Record<string, string>;
    contexts?: Record<string, string>;
    "cache-from"?: string[];
    "cache-to"?: string[];
    output?: string[];
}

export interface BakeFile {
    group: Record<string, { targets: string[] }>;
    target: Record<string, BakeTarget>;
}

/** Bake's `type=registry,ref=…,k=v` form of a docker-build cache entry. */
function cacheEntry(entry: any): string | undefined {
    const reg = entry?.registry;
    if (!reg?.ref) {
        return undefined;
    }
    const opts = [`type=registry`, `ref=${reg.ref}`];
    if (reg.mode) {
        opts.push(`mode=${reg.mode}`);
    }
    if (reg.imageManifest !== undefined) {
        opts.push(`image-manifest=${reg.imageManifest}`);
    }
    if (reg.ociMediaTypes !== undefined) {
        opts.push(`oci-mediatypes=${reg.ociMediaTypes}`);
    }
    return opts.join(",");
}

/** The group an image's platform builds share: its resource name without the arch. */
function groupOf(r: Recorded): string {
    return r.name.replace(/-[a-z0-9]+$/, "");
}

export function toBake(resources: readonly Recorded[]): BakeFile {
    const builds = resources.filter((r) => r.type === "docker-build:index:Image");
    const file: BakeFile = { group: { default: { targets: [] } }, target: {} };
    for (const r of builds) {
        const i = unwrapSecrets(r.inputs);
        const contexts: Record<string, string> = {};
        for (const [name, value] of Object.entries<any>(i.context?.named ?? {})) {
            const loc = String(value.location);
            // A pinned dependency becomes the target that builds it, so bake orders the graph.
            const dep = builds.find((d) => d.state.digest && loc.endsWith(`@${d.state.digest}`));
            contexts[name] = dep ? `target:${dep.name}` : loc;
        }
        const target: BakeTarget = {
            context: i.context.location,
            dockerfile: path.relative(i.context.location, i.dockerfile.location),
            platforms: i.platforms,
            tags: i.tags ?? [],
        };
        if (i.target) {
            target.target = i.target;
        }
        if (i.buildArgs) {
            target.args = i.buildArgs;
        }
        if (i.labels) {
            target.labels = i.labels;
        }
        if (Object.keys(contexts).length > 0) {
            target.contexts = contexts;
        }
        const from = (i.cacheFrom ?? []).map(cacheEntry).filter(Boolean) as string[];
        const to = (i.cacheTo ?? []).map(cacheEntry).filter(Boolean) as string[];
        if (from.length > 0) {
            target["cache-from"] = from;
        }
        if (to.length > 0) {
            target["cache-to"] = to;
        }
        const exports = (i.exports ?? []).map((e: any) => e.raw).filter(Boolean) as string[];
        target.output = exports.length > 0 ? exports : [i.push ? "type=registry" : "type=cacheonly"];
        file.target[r.name] = target;
        file.group.default.targets.push(r.name);
        const group = groupOf(r);
        file.group[group] = { targets: [...(file.group[group]?.targets ?? []), r.name] };
    }
    addDependencyCaches(file);
    return file;
}

/**
 * A `target:` context builds the dependency inside the dependent's own solve,
 * and BuildKit shares that vertex between the two targets: whichever job
 * resolves it first decides which cache it is looked up in. So a target also
 * reads the caches of everything it builds in-graph (after its own), or a
 * rebuild from an empty builder can miss and re-run a dependency's steps.
 */
function addDependencyCaches(file: BakeFile): void {
    const reads = (name: string, seen: Set<string>): string[] => {
        if (seen.has(name)) {
            return [];
        }
        seen.add(name);
        const t = file.target[name];
        const deps = Object.values(t.contexts ?? {}).filter((c) => c.startsWith("target:")).map((c) => c.slice("target:".length));
        return [...(t["cache-from"] ?? []), ...deps.flatMap((d) => reads(d, seen))];
    };
    for (const [name, t] of Object.entries(file.target)) {
        const all = [...new Set(reads(name, new Set()))];
        if (all.length > 0) {
            t["cache-from"] = all;
        }
    }
}

/**
 * The `imagetools create` calls that stand for what the stack publishes per
 * image: its index under the commit's tags (the `TagSet`), joining its
 * platform builds. One call per image, with all its tags.
 */
export function indexPlan(resources: readonly Recorded[]): { tags: string[]; sources: string[] }[] {
    const tagSets = resources.filter((r) => r.type === "pulumi-nodejs:dynamic/images:TagSet");
    const tagsOf = new Map<string, string[]>();
    for (const t of tagSets) {
        for (const [tag, target] of Object.entries(unwrapSecrets(t.inputs).tags as Record<string, string>)) {
            tagsOf.set(target, [...(tagsOf.get(target) ?? []), tag]);
        }
    }
    return resources.filter((r) => r.type === "docker-build:index:Index").map((r) => {
        const i = unwrapSecrets(r.inputs);
        const repo = (i.tag as string).slice(0, (i.tag as string).lastIndexOf(":"));
        const digest = (r.state.ref as string).slice((r.state.ref as string).lastIndexOf("@") + 1);
        // Mock digests mean nothing to a registry; a source is named by its tag.
        const sources = (i.sources as string[]).map((s) => s.replace(/@sha256:[0-9a-f]{64}$/, ""));
        return { tags: tagsOf.get(`${repo}@${digest}`) ?? [i.tag], sources };
    });
}

export async function bakeForStack(stack: string, overrides: readonly string[] = []): Promise<{ bake: BakeFile; indexes: ReturnType<typeof indexPlan>; resources: Recorded[] }> {
    const { resources } = await evaluateStack(stack, { overrides });
    return { bake: toBake(resources), indexes: indexPlan(resources), resources };
}

if (require.main === module) {
    runMain("bake", async () => {
        const args = parseStackArgs(process.argv.slice(2), "bake --stack <name> [--out FILE] [--config key=value ...]", { out: true });
        const { bake } = await bakeForStack(args.stack, args.config);
        const json = JSON.stringify(bake, null, 2) + "\n";
        if (args.out) {
            fs.writeFileSync(args.out, json);
            process.stderr.write(`bake: wrote ${Object.keys(bake.target).length} targets to ${args.out}\n`);
        } else {
            process.stdout.write(json);
        }
    });
}
