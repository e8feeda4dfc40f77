import { createHash } from "crypto";
import * as pulumi from "@pulumi/pulumi";
import { FleetResource } from "../fleetResource";
import * as preflight from "./preflight";

// The provider captures these functions, never the module: a captured module
// inside node_modules is serialized as `require("imagefleet/dist/…")`, which
// the package's exports refuse.
const { checkOne, describeDeadBuilders, describeDeadPoolBuilder } = preflight;

/** What one builder's check (a platform's builder, or one builder of its pool) is keyed on. */
export interface BuilderCheckInputs {
    /** Who builds on it, for messages (`ImageFamily "example"`). Required. */
    readonly subject: string;
    /** The stack, for messages. Required. */
    readonly stack: string;
    /** The platform its builds are for. Required. */
    readonly platform: string;
    /** buildx builder name. Required. */
    readonly builder: string;
    /** Every builder of the platform's pool when it has more than one, for messages; empty for a lone builder. Required. */
    readonly pool: readonly string[];
    /** The builds that wait for this check (resource names), for messages. Required. */
    readonly builds: readonly string[];
    /**
     * A digest of everything that decides the platform's builds. It changes
     * exactly when one of them will build, so the check runs then and only then.
     * Required.
     */
    readonly fingerprint: string;
    /**
     * Why the pre-flight found this builder down, when one of its builds has
     * not succeeded since the check last passed for this fingerprint (the
     * builder died mid-build); `""` otherwise. Non-empty makes the check run
     * again, so the rerun stops here naming the builder. Default: `""`.
     */
    readonly recheck?: string;
}

async function probe(i: BuilderCheckInputs): Promise<void> {
    if (process.env.IMAGEFLEET_PREFLIGHT === "off") {
        return;
    }
    const timeout = Number(process.env.IMAGEFLEET_PREFLIGHT_TIMEOUT) || 30;
    const r = await checkOne(i.builder, process.env.IMAGEFLEET_DOCKER ?? "docker", timeout);
    const serves = !r.ok || !r.platforms || r.platforms.length === 0 || r.platforms.some((p) => p === i.platform || p.startsWith(`${i.platform}/`));
    if (!r.ok || !serves) {
        const reason = r.reason ?? `it builds ${r.platforms!.join(", ")}, not ${i.platform}`;
        const dead = { platform: i.platform, builder: i.builder, ok: false, endpoint: r.endpoint, driver: r.driver, reason };
        throw new Error(i.pool.length > 1 ? describeDeadPoolBuilder(i.subject, i.stack, dead, i.pool, i.builds) : describeDeadBuilders(i.subject, i.stack, [dead], 1));
    }
}

const outputs = (i: BuilderCheckInputs) => ({ subject: i.subject, stack: i.stack, platform: i.platform, builder: i.builder, pool: i.pool, builds: i.builds, fingerprint: i.fingerprint });

/**
 * Checks a builder right before the builds that need it: the engine runs
 * create or update only when the fingerprint (or the builder) changed, which
 * is exactly when one of the platform's `Image`s will build. A commit that
 * builds nothing never asks (a stopped fleet host may stay stopped), and a
 * build on a dead builder stops here, naming the builder, its platform and
 * endpoint, instead of as the provider's `rpc error: … EOF`. A family has
 * one check per builder of a pool, each waited for by that builder's builds
 * alone: a dead builder stops its own share.
 */
export const builderCheckProvider: pulumi.dynamic.ResourceProvider = {
    async diff(_id: string, olds: BuilderCheckInputs, news: BuilderCheckInputs) {
        return { changes: olds.fingerprint !== news.fingerprint || olds.builder !== news.builder || (news.recheck ?? "") !== "" };
    },
    async create(inputs: BuilderCheckInputs) {
        await probe(inputs);
        return { id: `${inputs.platform}:${inputs.builder}`, outs: outputs(inputs) };
    },
    async update(_id: string, _olds: BuilderCheckInputs, news: BuilderCheckInputs) {
        await probe(news);
        return { outs: outputs(news) };
    },
};

/** A builder checked before its platform's builds (type `pulumi-nodejs:dynamic/builders:BuilderCheck`). */
export class BuilderCheck extends FleetResource {
    /** The fingerprint the builder was last checked for. */
    declare public readonly fingerprint: pulumi.Output<string>;

    constructor(name: string, args: { [K in keyof BuilderCheckInputs]: pulumi.Input<BuilderCheckInputs[K]> }, opts?: pulumi.CustomResourceOptions) {
        super(builderCheckProvider, name, args, opts, "builders", "BuilderCheck");
    }
}

/** sha256 (hex) of the JSON of a value whose parts may be Outputs. */
export function fingerprintOf(parts: pulumi.Input<unknown>[]): pulumi.Output<string> {
    return pulumi.all(parts).apply((values) => createHash("sha256").update(JSON.stringify(values)).digest("hex"));
}
