import * as pulumi from "@pulumi/pulumi";
import { listOf } from "../errors";
import { BuilderFleet, BuilderFleetArgs, fleetProblems } from "../builders";
import { Platform } from "../images/platforms";
import { exampleFamily } from "../../example/family";
import { ConfigReader, StackConfig } from "./config";

/** `imagefleet:fleet` as a stack file holds it: BuilderFleetArgs with plain values. */
export type FleetConfig = Omit<BuilderFleetArgs, "vpcId" | "subnetIds" | "repositoryArns" | "keyName" | "amis" | "builderNamePrefix" | "register" | "tags"> & {
    readonly vpcId: string;
    readonly subnetIds: string[];
    readonly repositoryArns?: string[];
    readonly keyName?: string;
    readonly tags?: Record<string, string>;
};

const FLEET_KEYS = [
    "vpcId", "subnetIds", "allowedCidrs", "allowPublicIngress", "publicEndpoint", "nodes", "spot", "cacheVolumeGiB",
    "gc", "idleStopMinutes", "buildkitVersion", "port", "repositoryArns", "keyName", "certValidityHours", "tags",
];

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
 * The buildx builder per platform for this stack. With `imagefleet:fleet`
 * set (dev, staging), a BuilderFleet provides builders for its platforms and
 * registers them on this machine; `imagefleet:builders` names the rest (the
 * local stack's buildkitd hosts, or builders that already exist). prod sets no
 * fleet: it promotes what staging built and never builds.
 */
export function buildersFor(config: StackConfig, options: BuildersOptions = {}): Partial<Record<Platform, pulumi.Input<string>>> {
    return stackFleet(config, options).builders;
}

/** Like `buildersFor`, plus the fleet itself (its endpoints, instance ids and certificates) to export as stack outputs. */
export function stackFleet(config: StackConfig, options: BuildersOptions = {}): { builders: Partial<Record<Platform, pulumi.Input<string>>>; fleet?: BuilderFleet } {
    const r = new ConfigReader();
    const key = r.key("fleet");
    const fleet = r.object<FleetConfig>("fleet", (v) =>
        typeof v === "object" && v !== null && !Array.isArray(v) ? undefined : `must be an object (BuilderFleet arguments), got ${JSON.stringify(v)}`);
    if (fleet === undefined) {
        r.throwIfAny();
        return { builders: config.builders };
    }
    if (config.stack === "local") {
        r.problems.add(`${key}: the local stack builds on this machine and has no fleet; remove ${key} or use a cloud stack`);
    }
    const unknown = Object.keys(fleet).filter((k) => !FLEET_KEYS.includes(k));
    if (unknown.length > 0) {
        r.problems.add(`${key}: unknown ${unknown.length === 1 ? "key" : "keys"} ${listOf(unknown)}; valid: ${listOf(FLEET_KEYS)}`);
    }
    for (const line of fleetProblems(fleet)) {
        r.problems.add(`${key}.${line}`);
    }
    const imageNames = options.imageNames ?? (config.images ?? exampleFamily({ artifactSource: config.artifactSource })).map((i) => i.name);
    const repositoryArns = options.repositoryArns ?? fleet.repositoryArns ?? ecrRepositoryArns(config.registry, imageNames);
    if (repositoryArns === undefined) {
        r.problems.add(`${key}.repositoryArns: ${r.key("registry")} (${JSON.stringify(config.registry.address)}) is not an ECR registry; list the repository ARNs the hosts may push to`);
    }
    r.throwIfAny();

    const name = `imagefleet-${config.stack}`;
    const builderFleet = new BuilderFleet(name, { ...fleet, repositoryArns, builderNamePrefix: name });
    return { builders: { ...config.builders, ...builderFleet.builders }, fleet: builderFleet };
}
