import { Issue } from "../errors";
import { GithubDelivery, GithubDeliveryArgs } from "../delivery";
import { deliveryCrossFieldIssues } from "../delivery/validate";
import { ConfigValues, readConfigValues, StackConfig, throwConfigIssues } from "./config";

/** `imagefleet:delivery` as a stack file holds it: GithubDeliveryArgs with plain values. */
export type DeliveryConfig = Omit<GithubDeliveryArgs, "cacheRepositoryArns" | "githubToken" | "secretsKeyArn" | "region" | "oidcProvider"> & {
    readonly oidcProvider?: "create" | "lookup" | { readonly arn: string };
    readonly secretsKeyArn?: string;
    readonly region?: string;
};

export interface DeliverySettings {
    /** The stack whose images this stack promotes; set means this stack never builds. */
    readonly promoteFrom?: string;
    readonly delivery?: DeliveryConfig;
}

/** `imagefleet:promoteFrom` and `imagefleet:delivery` as settings, and the rules across their fields. */
export function deliverySettingsOf(config: StackConfig, read: ConfigValues): { settings: DeliverySettings; issues: Issue[] } {
    const issues: Issue[] = [];
    const promoteFrom = read.values.promoteFrom as string | undefined;
    if (promoteFrom !== undefined && promoteFrom.split("/").pop() === config.stack) {
        issues.push({ path: ["promoteFrom"], message: `${JSON.stringify(promoteFrom)} is this stack; promote from the stack before it (e.g. staging)` });
    }
    if (read.set.has("delivery")) {
        if (config.stack === "local") {
            issues.push({ path: ["delivery"], message: "the local stack has no cloud account; configure delivery on a cloud stack" });
        }
        issues.push(...deliveryCrossFieldIssues(read.decoded.delivery).map((i) => ({ ...i, path: ["delivery", ...i.path] })));
    }
    return { settings: { promoteFrom, delivery: read.values.delivery as DeliveryConfig | undefined }, issues };
}

/** Reads `imagefleet:promoteFrom` and `imagefleet:delivery`; one error naming each bad key and the stack. */
export function loadDeliverySettings(config: StackConfig): DeliverySettings {
    const { settings, issues } = deliverySettingsOf(config, readConfigValues());
    throwConfigIssues(issues, config.stack);
    return settings;
}

/**
 * GithubDelivery when `imagefleet:delivery` is set. The preview role reads the
 * caches of every stack (`*-cache` repositories), since one role previews all.
 */
export function deliveryFor(config: StackConfig, settings: DeliverySettings): GithubDelivery | undefined {
    if (settings.delivery === undefined) {
        return undefined;
    }
    return new GithubDelivery("imagefleet-delivery", settings.delivery);
}
