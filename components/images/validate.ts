import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { Issue, listOf, Problems, show } from "../errors";
import { parseIssues } from "../schema";
import { dockerfileRefs } from "./dockerfileRefs";
import { dependenciesOf, topoOrder } from "./graph";
import { planIssues } from "./plan";
import { DEFAULT_PLATFORMS } from "./platforms";
import { imageFamilyArgs, imageSpec, platformList } from "./schema";
import { ImageFamilyArgs, ImageSpec } from "./types";

function isNonEmptyDir(dir: string): boolean {
    try {
        return fs.statSync(dir).isDirectory() && fs.readdirSync(dir).length > 0;
    } catch {
        return false;
    }
}

function isFile(file: string): boolean {
    try {
        return fs.statSync(file).isFile();
    } catch {
        return false;
    }
}

/**
 * A Dockerfile that builds from another image of the family by name
 * (`COPY --from=artifact`) must get it as a named context, or BuildKit looks
 * for `docker.io/library/artifact` on the builder, after everything upstream
 * was built.
 */
function refIssues(image: ImageSpec, dockerfile: string, at: readonly PropertyKey[], family: readonly string[]): Issue[] {
    const contexts = new Set(dependenciesOf(image).map((d) => d.context.toLowerCase()));
    return dockerfileRefs(fs.readFileSync(dockerfile, "utf8"))
        .filter((r) => family.includes(r.name) && r.name !== image.name && !contexts.has(r.name))
        .map((r) => ({
            path: [...at, "from"],
            message: `the Dockerfile builds from ${show(r.name)} (${r.instruction}, line ${r.line}), an image of this family, but from does not list it; add from: [${show(r.name)}]`,
        }));
}

/** The files an image needs: its context, its Dockerfile, and the local directories it takes. */
function fileIssues(image: ImageSpec, at: readonly PropertyKey[], baseDir: string, family: readonly string[]): Issue[] {
    const issues: Issue[] = [];
    const dir = path.resolve(baseDir, image.context);
    if (!isNonEmptyDir(dir)) {
        issues.push({ path: [...at, "context"], message: `${show(image.context)} is not a non-empty directory (looked in ${dir})` });
    } else {
        const dockerfile = path.join(dir, image.dockerfile ?? "Dockerfile");
        if (!isFile(dockerfile)) {
            issues.push({ path: [...at, "dockerfile"], message: `${show(image.dockerfile ?? "Dockerfile")} not found (looked for ${dockerfile})` });
        } else {
            issues.push(...refIssues(image, dockerfile, at, family));
        }
    }
    for (const dep of dependenciesOf(image)) {
        if (dep.local !== undefined && !isNonEmptyDir(path.resolve(baseDir, dep.local))) {
            issues.push({ path: [...at, "from", dep.context], message: `local directory ${show(dep.local)} is not a non-empty directory (looked in ${path.resolve(baseDir, dep.local)})` });
        }
    }
    return issues;
}

/** Rules between the images: names, `from`, the graph, per-image platforms. */
function graphIssues(images: readonly ImageSpec[], platforms: readonly string[] | undefined): Issue[] {
    const issues: Issue[] = [];
    const names = images.map((i) => i.name);
    const byName = new Map(images.map((i) => [i.name, i]));
    images.forEach((image, index) => {
        const at = ["images", index];
        if (names.indexOf(image.name) !== index) {
            issues.push({ path: [...at, "name"], message: `${show(image.name)} is declared twice (also images[${names.indexOf(image.name)}]); image names must be unique` });
        }
        const deps = dependenciesOf(image);
        for (const dep of deps) {
            if (dep.image === undefined) {
                continue;
            }
            if (dep.image === image.name) {
                issues.push({ path: [...at, "from", dep.context], message: `${show(dep.image)} is the image itself; an image cannot take itself as a context` });
            } else if (!byName.has(dep.image)) {
                issues.push({ path: [...at, "from", dep.context], message: `${show(dep.image)} is not an image of this family; valid: ${listOf(names.filter((n) => n !== image.name))}` });
            }
        }
        if (platforms !== undefined && image.platforms !== undefined) {
            image.platforms.forEach((p, i) => {
                if (image.platforms!.indexOf(p) !== i) {
                    issues.push({ path: [...at, "platforms", i], message: `${show(p)} is listed twice` });
                } else if (!platforms.includes(p)) {
                    issues.push({ path: [...at, "platforms", i], message: `${show(p)} is not one of the family's platforms; valid: ${listOf(platforms)}` });
                }
            });
        }
    });
    if (issues.length === 0) {
        const result = topoOrder(images);
        if ("cycle" in result) {
            issues.push({ path: ["images"], message: `from has a cycle: ${result.cycle.join(" -> ")}; an image cannot depend on itself through other images` });
        } else if (platforms !== undefined) {
            images.forEach((image, index) => {
                const mine = image.platforms ?? platforms;
                for (const dep of dependenciesOf(image)) {
                    const other = dep.image === undefined ? undefined : byName.get(dep.image);
                    const theirs = other?.platforms ?? platforms;
                    const missing = mine.filter((p) => !theirs.includes(p));
                    if (other !== undefined && missing.length > 0) {
                        issues.push({
                            path: ["images", index, "platforms"],
                            message: `image ${show(image.name)} builds for ${listOf(missing)} but takes ${show(other.name)} as context ${show(dep.context)}, which is built only for ${listOf(theirs)}; ` +
                                `valid: platforms ${show(other.name)} has, or add ${listOf(missing)} to ${show(other.name)}'s platforms`,
                        });
                    }
                }
            });
        }
    }
    return issues;
}

export interface FamilyCheckOptions {
    /** The stack, for the default environment tag. */
    readonly stack: string;
}

/**
 * Every problem of an ImageFamily's arguments that can be found before a
 * resource exists: the schema, then the files, the graph and the whole plan's
 * tags. Each issue's path is into the arguments (`images[2].from.dev-env`).
 */
export function familyIssues(args: unknown, options: FamilyCheckOptions): Issue[] {
    const issues = parseIssues(imageFamilyArgs, args);
    const a = (typeof args === "object" && args !== null ? args : {}) as Partial<Record<keyof ImageFamilyArgs, unknown>>;
    const baseDir = typeof a.baseDir === "string" && a.baseDir !== "" ? a.baseDir : process.cwd();
    const images = Array.isArray(a.images) ? (a.images as unknown[]) : [];
    const parsed = images.map((image) => parseIssues(imageSpec, image).length === 0);
    const family = images.filter((_, i) => parsed[i]).map((image) => (image as ImageSpec).name);
    images.forEach((image, i) => {
        if (parsed[i]) {
            issues.push(...fileIssues(image as ImageSpec, ["images", i], baseDir, family));
        }
    });
    const platformsOk = a.platforms === undefined || parseIssues(platformList, a.platforms).length === 0;
    const platforms = platformsOk ? ((a.platforms as string[] | undefined) ?? [...DEFAULT_PLATFORMS]) : undefined;
    if (images.length > 0 && parsed.every(Boolean)) {
        const specs = images as ImageSpec[];
        issues.push(...graphIssues(specs, platforms));
        if (platforms !== undefined) {
            platforms.forEach((p, i) => {
                if (platforms.indexOf(p) !== i) {
                    issues.push({ path: ["platforms", i], message: `${show(p)} is listed twice` });
                }
            });
            const used = platforms.filter((p) => specs.some((s) => ((s.platforms as readonly string[] | undefined) ?? platforms).includes(p)));
            const builders = typeof a.builders === "object" && a.builders !== null ? (a.builders as Record<string, unknown>) : undefined;
            for (const p of builders === undefined ? [] : used) {
                const b = builders![p];
                if (b === undefined || b === "") {
                    issues.push({ path: ["builders"], message: `platform ${show(p)} has no builder; set builders[${show(p)}] to a buildx builder name (configured: ${listOf(Object.keys(builders!))})` });
                }
            }
        }
        issues.push(...variantIssues(a.variants));
        const registry = a.registry as { repositories?: unknown; cacheRepositories?: unknown } | undefined;
        const names = specs.map((s) => s.name);
        for (const field of ["repositories", "cacheRepositories"] as const) {
            const map = registry?.[field];
            for (const key of typeof map === "object" && map !== null ? Object.keys(map) : []) {
                if (!names.includes(key)) {
                    issues.push({ path: ["registry", field, key], message: `${show(key)} is not an image of this family; valid: ${listOf(names)}` });
                }
            }
        }
    }
    if (issues.length === 0) {
        issues.push(...planIssues(args as ImageFamilyArgs, { stack: options.stack }));
    }
    return issues;
}

/**
 * Variants that would build what another build already does: one with no
 * build args is the default variant again, and two with the same args are one
 * build twice (each with its own tags and cache, for the same bytes).
 */
function variantIssues(variants: unknown): Issue[] {
    const issues: Issue[] = [];
    const seen = new Map<string, string>();
    const plainObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
    // Shapes the schema refuses are reported there.
    if (!plainObject(variants) || !Object.values(variants).every(plainObject)) {
        return issues;
    }
    for (const [name, args] of Object.entries(variants as Record<string, Record<string, unknown>>)) {
        if (Object.keys(args).length === 0) {
            issues.push({ path: ["variants", name], message: "has no build args, so it builds what the default variant builds; give it the build args that make it differ, or remove it" });
            continue;
        }
        const key = JSON.stringify(Object.entries(args).sort(([a], [b]) => a.localeCompare(b)));
        const twin = seen.get(key);
        if (twin !== undefined) {
            issues.push({ path: ["variants", name], message: `has the same build args as variant ${show(twin)}, so both build the same image; remove one or make them differ` });
        } else {
            seen.set(key, name);
        }
    }
    return issues;
}

/**
 * Every check that can run before a resource exists. Throws one ValidationError
 * naming the family, the stack and each offending key.
 */
export function validateFamily(name: string, args: ImageFamilyArgs, stack: string = pulumi.getStack()): void {
    const problems = new Problems();
    problems.addIssues(familyIssues(args, { stack }));
    problems.throwIfAny(`ImageFamily ${JSON.stringify(name)}`, stack);
}

/**
 * What is allowed but most likely a mistake, after validation passed: a
 * Dockerfile that copies or mounts from a bare name (`COPY --from=artifact`)
 * that is neither one of its stages, a named context of the image, nor an
 * image of the family. BuildKit then pulls `docker.io/library/<name>` on the
 * builder: an image that happens to exist there, or a failed build after
 * everything upstream was built. A warning, not an error: copying from a
 * Docker Hub image by its short name is valid. `FROM` is left out (`FROM
 * debian` is the common case), and so are names with a registry, tag or digest.
 */
export function familyWarnings(name: string, args: ImageFamilyArgs, stack: string = pulumi.getStack()): string[] {
    const baseDir = args.baseDir ?? process.cwd();
    const family = args.images.map((i) => i.name);
    const warnings: string[] = [];
    args.images.forEach((image, index) => {
        const dockerfile = path.join(path.resolve(baseDir, image.context), image.dockerfile ?? "Dockerfile");
        if (!isFile(dockerfile)) {
            return;
        }
        const contexts = new Set(dependenciesOf(image).map((d) => d.context.toLowerCase()));
        for (const r of dockerfileRefs(fs.readFileSync(dockerfile, "utf8"))) {
            if (r.instruction.startsWith("FROM ") || /[/:@.]/.test(r.name) || contexts.has(r.name) || family.includes(r.name)) {
                continue;
            }
            warnings.push(`ImageFamily ${JSON.stringify(name)} (stack "${stack}"): images[${index}] (${show(image.name)}): the Dockerfile takes from ${show(r.name)} ` +
                `(${r.instruction}, line ${r.line}), which is not a stage of it nor a context in its from, so BuildKit will pull docker.io/library/${r.name}; ` +
                `for a named context add from: {${show(r.name)}: {"local": "<dir>"}} (or a family image), for a Docker Hub image write its tag (${r.name}:<tag>)`);
        }
    });
    return warnings;
}
