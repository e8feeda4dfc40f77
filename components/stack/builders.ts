import * as pulumi from "@pulumi/pulumi";
import { Issue } from "../errors";
import { BuilderFleet, BuilderFleetArgs } from "../builders";
import { fleetCrossFieldIssues } from "../builders/validate";
import { Platform } from "../images/platforms";
import { BuilderPool, PoolBuilder } from "../images/types";
import { exampleFamily } from "../../example/family";
import { ConfigValues, NAMESPACE, readConfigValues, StackConfig, throwConfigIssues } from "./config";

/** `imagefleet:fleet` as a stack file holds it: BuilderFleetArgs with plain values. */
export type FleetConfig = Omit<BuilderFleetArgs, "vpcId" | "subnetIds" | "repositoryArns" | "keyName" | "amis" | "builderNamePrefix" | "register" | "tags"> & {
    readonly vpcId: string;
    readonly subnetIds: string[];
    readonly repositoryArns?: string[];
    readonly keyName?: string;
    readonly tags?: Record<string, string>;
};

const ECR_ADDRESS = /^(\d{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?$/;

/**
 * The ECR repositories (images and their `-cache` twins) the family pushes to,
 * as ARNs, derived from `imagefleet:registry` the way ImageFamily names them.
 * Undefined when the registry is not ECR.
 */
export function ecrRepositoryArns(registry: { address: string; namespace?: string }, imageNames: readonly string[]): string[] | undefined {
    const m = ECR_ADDRESS.exec(registry.address);
    if (!m) {
        return undefined;
    }
    const [, account, region, cn] = m;
    const ns = registry.namespace ? `${registry.namespace}/` : "";
    return imageNames.flatMap((image) => [image, `${image}-cache`])
        .map((repo) => `arn:${cn ? "aws-cn" : "aws"}:ecr:${region}:${account}:repository/${ns}${repo}`);
}

export interface BuildersOptions {
    /** Repository ARNs for the fleet's role, e.g. from ECR repositories this program creates. Default: derived from `imagefleet:registry`. */
    readonly repositoryArns?: pulumi.Input<string>[];
    /** Names of the family's images. Default: `imagefleet:images`, else the example family. */
    readonly imageNames?: readonly string[];
}

/**
 * The buildx builders per platform for this stack: a name or a pool. With
 * `imagefleet:fleet` set (dev, staging), a BuilderFleet provides a pool for
 * each of its platforms (one builder per host) and registers them on this
 * machine; `imagefleet:builders` names the rest (the local stack's buildkitd
 * hosts, or builders that already exist). prod sets no fleet: it promotes what
 * staging built and never builds.
 */
export function buildersFor(config: StackConfig, options: BuildersOptions = {}): Partial<Record<Platform, BuilderPool>> {
    return stackFleet(config, options).builders;
}

/** `imagefleet:fleet` as the fleet's arguments, and its problems: a fleet on the local stack, the rules across its fields, repositories it cannot derive. */
export function fleetSettingsOf(config: StackConfig, read: ConfigValues, options: BuildersOptions = {}): { fleet?: FleetConfig; repositoryArns?: pulumi.Input<string>[]; issues: Issue[] } {
    const issues: Issue[] = [];
    if (!read.set.has("fleet")) {
        return { issues };
    }
    if (config.stack === "local") {
        issues.push({ path: ["fleet"], message: `the local stack builds on this machine and has no fleet; remove ${NAMESPACE}:fleet or use a cloud stack` });
    }
    // The schema of imagefleet:fleet ran as the key was read; here the rules across its fields, on what was given.
    issues.push(...fleetCrossFieldIssues(read.decoded.fleet).map((i) => ({ ...i, path: ["fleet", ...i.path] })));
    const fleet = read.values.fleet as FleetConfig | undefined;
    const imageNames = options.imageNames ?? (config.images ?? exampleFamily({ artifactSource: config.artifactSource })).map((i) => i.name);
    const repositoryArns = options.repositoryArns ?? fleet?.repositoryArns ?? ecrRepositoryArns(config.registry, imageNames);
    if (fleet !== undefined && repositoryArns === undefined) {
        issues.push({ path: ["fleet", "repositoryArns"], message: `${NAMESPACE}:registry (${JSON.stringify(config.registry.address)}) is not an ECR registry; list the repository ARNs the hosts may push to` });
    }
    return { fleet, repositoryArns, issues };
}

/** Like `buildersFor`, plus the fleet itself (its endpoints, instance ids and certificates) to export as stack outputs. */
export function stackFleet(config: StackConfig, options: BuildersOptions = {}): { builders: Partial<Record<Platform, BuilderPool>>; fleet?: BuilderFleet } {
    const { fleet, repositoryArns, issues } = fleetSettingsOf(config, readConfigValues(), options);
    throwConfigIssues(issues, config.stack);
    if (fleet === undefined) {
        return { builders: config.builders };
    }
    const name = `imagefleet-${config.stack}`;
    const builderFleet = new BuilderFleet(name, { ...fleet, repositoryArns, builderNamePrefix: name });
    const builders: Partial<Record<Platform, BuilderPool>> = { ...config.builders };
    for (const [platform, pool] of Object.entries(builderFleet.builders) as [Platform, readonly PoolBuilder[]][]) {
        builders[platform] = config.builders[platform] === undefined ? pool : narrowPool(pool, config.builders[platform]!);
    }
    return { builders, fleet: builderFleet };
}

/**
 * `imagefleet:builders` given for a fleet's platform: the pool it lists, in
 * place of the fleet's. A name of a fleet host waits for that host's
 * registration; other names are builders this machine already has. This is
 * how a dead host is taken out of the pool: list the others.
 */
function narrowPool(fleetPool: readonly PoolBuilder[], listed: string | string[]): (string | PoolBuilder)[] {
    return (Array.isArray(listed) ? listed : [listed]).map((n) => fleetPool.find((b) => b.name.toLowerCase() === n.toLowerCase()) ?? n);
}
