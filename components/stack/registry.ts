import { listOf, ValidationError } from "../errors";
import { RegistrySpec } from "../images/types";
import { EcrRegistry, EcrRegistryArgs, ghcrRegistry, GHCR_ADDRESS, validateEcrRegistry } from "../registry";
import { ConfigReader, StackConfig } from "./config";

export const REGISTRY_KINDS = ["static", "ecr", "ghcr"] as const;
export type RegistryKind = (typeof REGISTRY_KINDS)[number];

/** `imagefleet:ecr` as a stack file holds it. */
type EcrConfig = Pick<EcrRegistryArgs,
    "prefix" | "encryption" | "scanOnPush" | "keepCacheBranches" | "cacheExpiryDays" | "untaggedCacheExpiryDays" | "untaggedImageExpiryDays" | "protect" | "tags"> & {
    readonly kmsKey?: string;
};

const ECR_KEYS = ["prefix", "encryption", "kmsKey", "scanOnPush", "keepCacheBranches", "cacheExpiryDays", "untaggedCacheExpiryDays", "untaggedImageExpiryDays", "protect", "tags"];

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

/**
 * Reads `imagefleet:registryKind` and `imagefleet:ecr` and checks the ECR
 * arguments they make, before anything is declared; one error naming each bad
 * key and the stack.
 */
export function loadRegistrySettings(config: StackConfig, imageNames: readonly string[]): RegistrySettings {
    const r = new ConfigReader();
    const kind = (r.string("registryKind", /^(static|ecr|ghcr)$/, `valid: ${listOf(REGISTRY_KINDS)}`) ?? "static") as RegistryKind;
    const ecr = r.object<EcrConfig>("ecr", (v) => {
        if (typeof v !== "object" || v === null || Array.isArray(v)) {
            return `must be an object (EcrRegistry settings), got ${JSON.stringify(v)}`;
        }
        const unknown = Object.keys(v).filter((k) => !ECR_KEYS.includes(k));
        return unknown.length > 0 ? `unknown ${listOf(unknown)}; valid: ${listOf(ECR_KEYS)}` : undefined;
    }) ?? {};
    if (r.raw("ecr") !== undefined && kind !== "ecr") {
        r.problems.add(`${r.key("ecr")}: only used when ${r.key("registryKind")} is "ecr" (it is ${JSON.stringify(kind)})`);
    }
    if (kind === "ecr" && config.stack === "local") {
        r.problems.add(`${r.key("registryKind")}: the local stack has no cloud account; use "static" with a registry on localhost`);
    }
    if (kind === "ecr" && !ECR_HOST.test(config.registry.address)) {
        // The repositories' ARNs (for the builder hosts' role) are derived from it.
        r.problems.add(`${r.key("registry")}: address must be the ECR registry the repositories are created in ("<account>.dkr.ecr.<region>.amazonaws.com") when ${r.key("registryKind")} is "ecr", got ${JSON.stringify(config.registry.address)}`);
    }
    const args: EcrRegistryArgs = {
        images: imageNames,
        platforms: config.platforms,
        keepCacheBranches: config.fallbackBranches,
        ...ecr,
        prefix: ecr.prefix ?? `${config.registry.namespace ?? "imagefleet"}/${config.stack}`,
    };
    if (kind === "ecr") {
        try {
            validateEcrRegistry("imagefleet-registry", args, config.stack);
        } catch (err) {
            for (const line of err instanceof ValidationError ? err.problems : [String(err)]) {
                r.problems.add(`${r.key("ecr")}.${line}`);
            }
        }
    }
    if (kind === "ghcr") {
        if (config.registry.address !== GHCR_ADDRESS) {
            r.problems.add(`${r.key("registry")}: address must be "${GHCR_ADDRESS}" when ${r.key("registryKind")} is "ghcr", got ${JSON.stringify(config.registry.address)}`);
        }
        if (!config.registry.namespace) {
            r.problems.add(`${r.key("registry")}: namespace must be the GitHub owner (user or organization) when ${r.key("registryKind")} is "ghcr"`);
        }
        if (!config.registry.username) {
            r.problems.add(`${r.key("registry")}: username is required for ghcr (the account the token belongs to)`);
        }
        if (config.registry.password === undefined) {
            r.problems.add(`${r.key("registryPassword")}: required for ghcr, a token with write:packages (pulumi config set --secret registryPassword …)`);
        }
    }
    r.throwIfAny();
    return { kind, ecr: args };
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
