import * as pulumi from "@pulumi/pulumi";
import * as path from "path";
import { Issue } from "../errors";
import { familyIssues } from "../images/validate";
import { ImageFamilyArgs } from "../images/types";
import { exampleFamily } from "../../example/family";
import { fleetSettingsOf } from "./builders";
import { checkStackConfig, StackConfig, throwConfigIssues } from "./config";
import { deliverySettingsOf } from "./delivery";
import { plannedRepositories, plannedRepositoryArns, registrySettingsOf } from "./registry";
import { supplyChainSettingsOf } from "./supplychain";

/** The config keys an ImageFamily's arguments are made of; its check runs only when they are valid. */
const FAMILY_KEYS = new Set(["registry", "platforms", "builders", "images", "variants", "buildArgs", "fallbackBranches", "cacheWrite", "release",
    "gitBranch", "gitSha", "artifactSource", "localArtifactDir", "push", "buildOnPreview", "registryKind", "ecr"]);

/** Where a problem in the family's arguments is fixed in the stack config. */
function configPath(p: readonly PropertyKey[], config: StackConfig): PropertyKey[] {
    const [head, ...rest] = p;
    switch (head) {
        case "git":
            return [rest[0] === "sha" ? "gitSha" : "gitBranch"];
        case "cache":
            return rest[0] === "write" ? ["cacheWrite"] : ["fallbackBranches", ...rest.slice(1)];
        case "tags":
            // The environment tag is the stack's name; what can change is the release.
            return ["release"];
        case "images":
            if (config.images === undefined) {
                return config.artifactSource === "local" && rest[1] === "from" ? ["localArtifactDir"] : [...p];
            }
            return [...p];
        default:
            return [...p];
    }
}

/**
 * Every problem of the stack config, before anything is declared: each key
 * against its schema, keys no schema knows, the rules between keys, the
 * registry kind, the fleet, delivery, and the family the stack builds over
 * its whole plan (files, graph, every tag pushed). Paths are config keys.
 */
export function stackConfigIssues(env: NodeJS.ProcessEnv = process.env): { config: StackConfig; issues: Issue[]; warnings: readonly string[] } {
    const { config, read, issues, warnings } = checkStackConfig(env);
    const images = config.images ?? exampleFamily({ artifactSource: config.artifactSource, localArtifactDir: config.localArtifactDir });
    const imageNames = images.map((i) => i.name);
    const registry = registrySettingsOf(config, read, imageNames);
    const delivery = deliverySettingsOf(config, read);
    const supplyChain = supplyChainSettingsOf(config, read, delivery.settings.promoteFrom,
        [...delivery.issues, ...issues].some((i) => i.path[0] === "delivery") ? undefined : (delivery.settings.delivery?.environments ?? []).length > 0);
    issues.push(...registry.issues, ...delivery.issues, ...supplyChain.issues);
    if (delivery.settings.promoteFrom === undefined) {
        issues.push(...fleetSettingsOf(config, read, { repositoryArns: plannedRepositoryArns(config, registry.settings), imageNames }).issues);
        if (!issues.some((i) => FAMILY_KEYS.has(String(i.path[0])))) {
            // Builders were checked per platform above; fleet builders only exist once declared.
            const builders = Object.fromEntries(config.platforms.map((p) => [p, config.builders[p] ?? "fleet"]));
            const args: ImageFamilyArgs = {
                images,
                platforms: config.platforms,
                builders,
                registry: plannedRepositories(config, registry.settings),
                git: { branch: config.git.branch, sha: config.git.sha },
                buildArgs: config.buildArgs,
                variants: config.variants,
                cache: { fallbackBranches: config.fallbackBranches, write: config.cacheWrite },
                tags: { release: config.release },
                push: config.push,
                buildOnPreview: config.buildOnPreview,
                // The program runs from the project directory, as the engine runs it.
                baseDir: path.resolve(process.cwd()),
            };
            issues.push(...familyIssues(args, { stack: config.stack }).map((i) => {
                const at = configPath(i.path, config);
                // The example family is the program's, not a key the user set: say so.
                return { path: at, message: at[0] === "images" && config.images === undefined ? `(the example family) ${i.message}` : i.message };
            }));
        }
    }
    return { config, issues, warnings };
}

/**
 * Reads and validates the project's config for the current stack. Throws one
 * ValidationError naming each bad key and the stack before anything is declared.
 */
export function loadStackConfig(env: NodeJS.ProcessEnv = process.env): StackConfig {
    const { config, issues, warnings } = stackConfigIssues(env);
    throwConfigIssues(issues, config.stack);
    for (const w of warnings) {
        void pulumi.log.warn(w);
    }
    return config;
}
