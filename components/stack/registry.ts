import { Issue } from "../errors";
import { RegistrySpec } from "../images/types";
import { EcrRegistry, EcrRegistryArgs, ghcrRegistry, GHCR_ADDRESS } from "../registry";
import { ecrCrossFieldIssues, ecrRegistryIssues } from "../registry/validate";
import { ConfigValues, NAMESPACE, readConfigValues, StackConfig, throwConfigIssues } from "./config";
import { REGISTRY_KINDS } from "./schema";

export { REGISTRY_KINDS };
export type RegistryKind = (typeof REGISTRY_KINDS)[number];

/** This stack's registry: what an ImageFamily or a Promotion pushes to, and the ECR repositories when it has them. */
export interface StackRegistry {
    readonly kind: RegistryKind;
    readonly spec: RegistrySpec;
    readonly ecr?: EcrRegistry;
}

export interface RegistrySettings {
    readonly kind: RegistryKind;
    /** The EcrRegistry arguments (kind `ecr`), checked. */
    readonly ecr: EcrRegistryArgs;
}

const ECR_HOST = /^(\d{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?$/;
const key = (k: string) => `${NAMESPACE}:${k}`;

/**
 * `imagefleet:registryKind` and `imagefleet:ecr` as the settings they make,
 * and their problems: ECR settings on a stack that is not ECR, a registry
 * address that does not fit the kind, the EcrRegistry arguments.
 */
export function registrySettingsOf(config: StackConfig, read: ConfigValues, imageNames: readonly string[]): { settings: RegistrySettings; issues: Issue[] } {
    const issues: Issue[] = [];
    const kind = (read.values.registryKind as RegistryKind | undefined) ?? "static";
    const ecr = (read.values.ecr as Partial<EcrRegistryArgs> | undefined) ?? {};
    if (read.set.has("ecr") && kind !== "ecr") {
        issues.push({ path: ["ecr"], message: `only used when ${key("registryKind")} is "ecr" (it is ${JSON.stringify(kind)})` });
    }
    if (kind === "ecr" && config.stack === "local") {
        issues.push({ path: ["registryKind"], message: 'the local stack has no cloud account; use "static" with a registry on localhost' });
    }
    if (kind === "ecr" && config.registry.address !== "" && !ECR_HOST.test(config.registry.address)) {
        // The repositories' ARNs (for the builder hosts' role) are derived from it.
        issues.push({ path: ["registry", "address"], message: `must be the ECR registry the repositories are created in ("<account>.dkr.ecr.<region>.amazonaws.com") when ${key("registryKind")} is "ecr", got ${JSON.stringify(config.registry.address)}` });
    }
    const args: EcrRegistryArgs = {
        images: imageNames,
        platforms: config.platforms,
        keepCacheBranches: config.fallbackBranches,
        ...ecr,
        prefix: ecr.prefix ?? `${config.registry.namespace ?? "imagefleet"}/${config.stack}`,
    };
    if (kind === "ecr" || read.set.has("ecr")) {
        // The schema of imagefleet:ecr ran as the key was read; here the rules across its fields, on what was given.
        issues.push(...ecrCrossFieldIssues(read.decoded.ecr ?? {}).map((i) => ({ ...i, path: ["ecr", ...i.path] })));
        if (kind === "ecr" && read.values.ecr !== undefined) {
            issues.push(...ecrRegistryIssues(args).filter((i) => i.path[0] !== "kmsKey" && i.path[0] !== "images").map((i) => ({ ...i, path: ["ecr", ...i.path] })));
        }
    }
    if (kind === "ghcr") {
        if (config.registry.address !== "" && config.registry.address !== GHCR_ADDRESS) {
            issues.push({ path: ["registry"], message: `address must be "${GHCR_ADDRESS}" when ${key("registryKind")} is "ghcr", got ${JSON.stringify(config.registry.address)}` });
        }
        if (!config.registry.namespace) {
            issues.push({ path: ["registry"], message: `namespace must be the GitHub owner (user or organization) when ${key("registryKind")} is "ghcr"` });
        }
        if (!config.registry.username) {
            issues.push({ path: ["registry"], message: "username is required for ghcr (the account the token belongs to)" });
        }
        if (config.registry.password === undefined) {
            issues.push({ path: ["registryPassword"], message: "required for ghcr, a token with write:packages (pulumi config set --secret registryPassword …)" });
        }
    }
    return { settings: { kind, ecr: args }, issues };
}

/**
 * Reads `imagefleet:registryKind` and `imagefleet:ecr` and checks the ECR
 * arguments they make, before anything is declared; one error naming each bad
 * key and the stack.
 */
export function loadRegistrySettings(config: StackConfig, imageNames: readonly string[]): RegistrySettings {
    const { settings, issues } = registrySettingsOf(config, readConfigValues(), imageNames);
    throwConfigIssues(issues, config.stack);
    return settings;
}

/**
 * The ARNs the ECR repositories will have (images and caches), known before
 * they are declared, so a builder fleet can be checked and declared first.
 * Undefined unless the kind is `ecr`.
 */
export function plannedRepositoryArns(config: StackConfig, settings: RegistrySettings): string[] | undefined {
    const m = ECR_HOST.exec(config.registry.address);
    if (settings.kind !== "ecr" || !m) {
        return undefined;
    }
    const [, account, region, cn] = m;
    return settings.ecr.images.flatMap((image) => [image, `${image}-cache`])
        .map((repo) => `arn:${cn ? "aws-cn" : "aws"}:ecr:${region}:${account}:repository/${settings.ecr.prefix}/${repo}`);
}

/** The repository names the family will push to (before ECR repositories exist), for the plan check. */
export function plannedRepositories(config: StackConfig, settings: RegistrySettings): Pick<RegistrySpec, "address" | "namespace" | "repositories" | "cacheRepositories"> {
    if (settings.kind === "ecr") {
        const base = `${config.registry.address}/${settings.ecr.prefix}`;
        return {
            address: config.registry.address,
            repositories: Object.fromEntries(settings.ecr.images.map((i) => [i, `${base}/${i}`])),
            cacheRepositories: Object.fromEntries(settings.ecr.images.map((i) => [i, `${base}/${i}-cache`])),
        };
    }
    if (settings.kind === "ghcr") {
        return { address: GHCR_ADDRESS, namespace: config.registry.namespace?.toLowerCase() };
    }
    return { address: config.registry.address, namespace: config.registry.namespace };
}

/**
 * Where this stack's images and caches go: `imagefleet:registry` as given
 * (`static`, e.g. the local stack's registry), ECR repositories this stack
 * creates (`ecr`: one per image plus a cache repository, named
 * `<namespace>/<stack>/<image>` unless `imagefleet:ecr.prefix` says otherwise),
 * or GitHub's registry (`ghcr`). Declares the ECR repositories, so call it once.
 */
export function registryFor(config: StackConfig, settings: RegistrySettings): StackRegistry {
    switch (settings.kind) {
        case "ecr": {
            const ecr = new EcrRegistry("imagefleet-registry", settings.ecr);
            return { kind: "ecr", spec: ecr.registrySpec(), ecr };
        }
        case "ghcr":
            return {
                kind: "ghcr",
                spec: ghcrRegistry({ owner: config.registry.namespace!, username: config.registry.username!, token: config.registry.password! }),
            };
        default:
            return { kind: "static", spec: config.registry };
    }
}
