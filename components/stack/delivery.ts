import { GithubDelivery, GithubDeliveryArgs, validateDelivery } from "../delivery";
import { listOf, ValidationError } from "../errors";
import { ConfigReader, StackConfig } from "./config";

/** `imagefleet:delivery` as a stack file holds it: GithubDeliveryArgs with plain values. */
export type DeliveryConfig = Omit<GithubDeliveryArgs, "cacheRepositoryArns" | "githubToken" | "secretsKeyArn" | "region" | "oidcProvider"> & {
    readonly oidcProvider?: "create" | "lookup" | { readonly arn: string };
    readonly secretsKeyArn?: string;
    readonly region?: string;
};

const DELIVERY_KEYS = ["repository", "oidcProvider", "environments", "protectedEnvironments", "preview", "stateBackendUrl", "secretsKeyArn", "region"];

// `org/project/stack`, `project/stack` or `stack`, as `pulumi stack select` takes them.
const STACK_NAME = /^[A-Za-z0-9_.-]+(?:\/[A-Za-z0-9_.-]+){0,2}$/;

export interface DeliverySettings {
    /** The stack whose images this stack promotes; set means this stack never builds. */
    readonly promoteFrom?: string;
    readonly delivery?: DeliveryConfig;
}

/** Reads `imagefleet:promoteFrom` and `imagefleet:delivery`; one error naming each bad key and the stack. */
export function loadDeliverySettings(config: StackConfig): DeliverySettings {
    const r = new ConfigReader();
    const promoteFrom = r.string("promoteFrom", STACK_NAME, "use a stack name such as \"organization/imagefleet/staging\"");
    if (promoteFrom !== undefined && promoteFrom.split("/").pop() === config.stack) {
        r.problems.add(`${r.key("promoteFrom")}: ${JSON.stringify(promoteFrom)} is this stack; promote from the stack before it (e.g. staging)`);
    }
    const delivery = r.object<DeliveryConfig>("delivery", (v) => {
        if (typeof v !== "object" || v === null || Array.isArray(v)) {
            return `must be an object (GithubDelivery settings), got ${JSON.stringify(v)}`;
        }
        const unknown = Object.keys(v).filter((k) => !DELIVERY_KEYS.includes(k));
        return unknown.length > 0 ? `unknown ${listOf(unknown)}; valid: ${listOf(DELIVERY_KEYS)}` : undefined;
    });
    if (delivery !== undefined && config.stack === "local") {
        r.problems.add(`${r.key("delivery")}: the local stack has no cloud account; configure delivery on a cloud stack`);
    }
    if (delivery !== undefined) {
        try {
            validateDelivery("delivery", delivery, config.stack);
        } catch (err) {
            // Re-spelled with the config key, so the message says where to fix it.
            for (const line of err instanceof ValidationError ? err.problems : [String(err)]) {
                r.problems.add(`${r.key("delivery")}.${line}`);
            }
        }
    }
    r.throwIfAny();
    return { promoteFrom, delivery };
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
