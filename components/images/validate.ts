import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { listOf, Problems } from "../errors";
import { dependenciesOf, topoOrder } from "./graph";
import { NAME, SEMVER, SHA } from "./policy";
import { DEFAULT_PLATFORMS, isPlatform, SUPPORTED_PLATFORMS } from "./platforms";
import { IMAGE_KINDS, ImageFamilyArgs, ImageSpec } from "./types";

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

function checkStringMap(problems: Problems, key: string, map: unknown): void {
    if (map === undefined) {
        return;
    }
    if (typeof map !== "object" || map === null || Array.isArray(map)) {
        problems.add(`${key} must be a map of strings, got ${JSON.stringify(map)}`);
        return;
    }
    for (const [k, v] of Object.entries(map)) {
        if (typeof v !== "string") {
            problems.add(`${key}.${k} must be a string, got ${JSON.stringify(v)}`);
        }
    }
}

function checkImage(problems: Problems, image: ImageSpec, index: number, names: readonly string[], baseDir: string): void {
    const at = `images[${index}] ${JSON.stringify(image.name)}`;
    if (!IMAGE_KINDS.includes(image.kind)) {
        problems.add(`${at}: kind ${JSON.stringify(image.kind)} is not valid; valid: ${listOf(IMAGE_KINDS)}`);
    }
    if (typeof image.context !== "string" || image.context === "") {
        problems.add(`${at}: context is required (a directory with the build's files)`);
    } else {
        const dir = path.resolve(baseDir, image.context);
        if (!isNonEmptyDir(dir)) {
            problems.add(`${at}: context ${JSON.stringify(image.context)} is not a non-empty directory (looked in ${dir})`);
        } else {
            const dockerfile = path.join(dir, image.dockerfile ?? "Dockerfile");
            if (!isFile(dockerfile)) {
                problems.add(`${at}: dockerfile ${JSON.stringify(image.dockerfile ?? "Dockerfile")} not found (looked for ${dockerfile})`);
            }
        }
    }
    if (image.target !== undefined && (typeof image.target !== "string" || image.target === "")) {
        problems.add(`${at}: target must be a non-empty stage name when set`);
    }
    checkStringMap(problems, `${at}: buildArgs`, image.buildArgs);
    if (image.from !== undefined && (typeof image.from !== "object" || image.from === null)) {
        problems.add(`${at}: from must be a list of image names or a map of context name to source`);
        return;
    }
    for (const dep of dependenciesOf(image)) {
        if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(dep.context)) {
            problems.add(`${at}: from context name ${JSON.stringify(dep.context)} is not a valid build context name`);
        }
        if (dep.local !== undefined) {
            if (!isNonEmptyDir(path.resolve(baseDir, dep.local))) {
                problems.add(`${at}: from ${JSON.stringify(dep.context)}: local directory ${JSON.stringify(dep.local)} is not a non-empty directory`);
            }
        } else if (dep.image === image.name) {
            problems.add(`${at}: from ${JSON.stringify(dep.context)} refers to the image itself`);
        } else if (dep.image === undefined || !names.includes(dep.image)) {
            problems.add(`${at}: from ${JSON.stringify(dep.context)} refers to ${JSON.stringify(dep.image)}, which is not an image of this family; valid: ${listOf(names.filter((n) => n !== image.name))}`);
        }
    }
}

/**
 * Every check that can run before a resource exists. Throws one ValidationError
 * naming the family, the stack and each offending key.
 */
export function validateFamily(name: string, args: ImageFamilyArgs, stack: string = pulumi.getStack()): void {
    const problems = new Problems();
    const subject = `ImageFamily ${JSON.stringify(name)}`;
    const baseDir = args.baseDir ?? process.cwd();

    if (!Array.isArray(args.images) || args.images.length === 0) {
        problems.add("images: the family is empty; declare at least one image (kinds: dev-env, artifact, runtime)");
        problems.throwIfAny(subject, stack);
    }
    const names = args.images.map((i) => i.name);
    const seen = new Set<string>();
    args.images.forEach((image, index) => {
        if (typeof image.name !== "string" || !NAME.test(image.name)) {
            problems.add(`images[${index}]: name ${JSON.stringify(image.name)} is not valid; use lowercase letters, digits, '.', '_' or '-' (at most 63)`);
        } else if (seen.has(image.name)) {
            problems.add(`images[${index}]: name ${JSON.stringify(image.name)} is declared twice; image names must be unique`);
        }
        seen.add(image.name);
        checkImage(problems, image, index, names, baseDir);
    });
    if (problems.count === 0) {
        const result = topoOrder(args.images);
        if ("cycle" in result) {
            problems.add(`images: from has a cycle: ${result.cycle.join(" -> ")}; an image cannot depend on itself through other images`);
        }
    }

    const platforms = args.platforms ?? DEFAULT_PLATFORMS;
    if (!Array.isArray(platforms) || platforms.length === 0) {
        problems.add(`platforms: at least one platform is required; valid: ${listOf(SUPPORTED_PLATFORMS)}`);
    } else {
        platforms.forEach((p, i) => {
            if (!isPlatform(p)) {
                problems.add(`platforms[${i}]: ${JSON.stringify(p)} is not a supported platform; valid: ${listOf(SUPPORTED_PLATFORMS)}`);
            } else if (platforms.indexOf(p) !== i) {
                problems.add(`platforms[${i}]: ${JSON.stringify(p)} is listed twice`);
            } else {
                const builder = args.builders?.[p];
                if (builder === undefined || builder === "") {
                    problems.add(`builders: platform ${JSON.stringify(p)} has no builder; set builders[${JSON.stringify(p)}] to a buildx builder name (configured: ${listOf(Object.keys(args.builders ?? {}))})`);
                }
            }
        });
    }
    for (const key of Object.keys(args.builders ?? {})) {
        if (!isPlatform(key)) {
            problems.add(`builders: key ${JSON.stringify(key)} is not a supported platform; valid: ${listOf(SUPPORTED_PLATFORMS)}`);
        }
    }

    if (!args.registry || args.registry.address === undefined || args.registry.address === "") {
        problems.add("registry.address is required, e.g. \"registry.localhost:5000\"");
    }
    if (args.registry?.namespace !== undefined && !/^[a-z0-9]+(?:[._/-][a-z0-9]+)*$/.test(args.registry.namespace)) {
        problems.add(`registry.namespace ${JSON.stringify(args.registry.namespace)} is not a valid repository path`);
    }
    for (const key of [...Object.keys(args.registry?.repositories ?? {}), ...Object.keys(args.registry?.cacheRepositories ?? {})]) {
        if (!names.includes(key)) {
            problems.add(`registry.repositories: ${JSON.stringify(key)} is not an image of this family; valid: ${listOf(names)}`);
        }
    }

    if (!args.git || typeof args.git.branch !== "string" || args.git.branch.trim() === "") {
        problems.add("git.branch is required (config imagefleet:gitBranch, the CI's branch variable, or `git`)");
    }
    if (!args.git || typeof args.git.sha !== "string" || !SHA.test(args.git.sha)) {
        problems.add(`git.sha ${JSON.stringify(args.git?.sha)} is not a commit SHA (7 to 64 hex characters)`);
    }

    checkStringMap(problems, "buildArgs", args.buildArgs);
    for (const [variant, buildArgs] of Object.entries(args.variants ?? {})) {
        if (!NAME.test(variant)) {
            problems.add(`variants: name ${JSON.stringify(variant)} is not valid; use lowercase letters, digits, '.', '_' or '-'`);
        }
        checkStringMap(problems, `variants.${variant}`, buildArgs);
    }
    const fallbacks = args.cache?.fallbackBranches ?? ["main"];
    if (!Array.isArray(fallbacks) || fallbacks.some((b) => typeof b !== "string" || b.trim() === "")) {
        problems.add(`cache.fallbackBranches must be a list of branch names, got ${JSON.stringify(fallbacks)}`);
    }
    if (args.tags?.release !== undefined && !SEMVER.test(args.tags.release)) {
        problems.add(`tags.release ${JSON.stringify(args.tags.release)} is not a semver version such as "1.4.0"`);
    }

    problems.throwIfAny(subject, stack);
}
