import * as pulumi from "@pulumi/pulumi";
import { checkOne } from "../builders/preflight";

/** A per-platform build, for the message its failure gives what depends on it. */
export interface BuildIdentity {
    /** `ImageFamily "example"`. Required. */
    readonly subject: string;
    /** The stack. Required. */
    readonly stack: string;
    /** The build's resource name (`example-runtime-arm64`), where the provider reports its own error. Required. */
    readonly resource: string;
    /** `image[-variant]`. Required. */
    readonly key: string;
    readonly platform: string;
    /** buildx builder name; an Output when only an Output names it. Required. */
    readonly builder: pulumi.Input<string>;
    /** Every builder of the platform's pool when it has more than one; empty for a lone builder. Required. */
    readonly pool: readonly string[];
}

/**
 * Why the build failed, as far as this machine can tell right after: its
 * builder is asked again (it may have died mid-build) and named with its
 * endpoint either way.
 */
async function explain(b: BuildIdentity): Promise<string> {
    const builder = await new Promise<string>((resolve) => pulumi.output(b.builder).apply(resolve));
    const head = `${b.subject} (stack "${b.stack}"): ${b.resource} (${b.key}, ${b.platform}) did not build, so nothing built from it, `
        + "its index and the commit's tags were not published (what was published before is unchanged).";
    let builderLine = `Its builder is ${JSON.stringify(builder)}.`;
    if (process.env.IMAGEFLEET_PREFLIGHT !== "off") {
        const r = await checkOne(builder, process.env.IMAGEFLEET_DOCKER ?? "docker", Math.min(Number(process.env.IMAGEFLEET_PREFLIGHT_TIMEOUT) || 30, 15));
        const at = `${JSON.stringify(builder)}${r.endpoint ? ` at ${r.endpoint}` : ""}${r.driver ? ` (driver ${r.driver})` : ""}`;
        builderLine = r.ok
            ? `Its builder ${at} answers: the failure is the build's own (a step, or the push), in the error above on ${b.resource}.`
            : `Its builder ${at} no longer answers: ${r.reason}. Bring it back${b.pool.length > 1
                ? `, or take it out of the pool: drop it from builders[${JSON.stringify(b.platform)}] (stack config: imagefleet:builders[${JSON.stringify(b.platform)}]); only its builds move`
                : ""}.`;
    }
    return `${head}\n  ${builderLine}\n  Then run \`pulumi up\` again; \`--continue-on-error\` lets the rest of the family build meanwhile.`;
}

/**
 * The build's `ref` and `digest` as what depends on it reads them: when the
 * build fails, they fail with one error naming the build, its builder (asked
 * again, with its endpoint) and what to do, printed once and without a stack.
 * Read directly, a failed build's outputs make every resource that takes
 * them (an image built from it, its index, the family's tags, the component's
 * outputs) an "unhandled exception" of the SDK, `error serializing property …
 * failed to register`, with a stack trace and no builder.
 */
export function namedOnFailure(build: { readonly ref: pulumi.Output<string>; readonly digest: pulumi.Output<string>; readonly urn?: pulumi.Output<string> }, b: BuildIdentity,
    parent: pulumi.Resource): { ref: pulumi.Output<string>; digest: pulumi.Output<string> } {
    let failure: Promise<never> | undefined;
    const fail = (): Promise<never> => (failure ??= explain(b).then((text) => {
        const err = new pulumi.ResourceError(text, parent, true);
        // The SDK prefixes a failed input's message with its property path at
        // every resource it passes through ("error serializing property
        // …"), on this same object: the message already says what failed.
        Object.defineProperty(err, "message", { get: () => text, set: () => undefined });
        throw err;
    }));
    // Under `--continue-on-error` the SDK rejects every output of a failed
    // resource (its urn, id, tags, …); one nobody reads is an unhandled
    // rejection, printed with a stack. The provider's error is already on the
    // build, and this family's message on what depended on it.
    for (const [key, value] of Object.entries(build)) {
        if (key !== "ref" && key !== "digest" && pulumi.Output.isInstance(value)) {
            pulumi.recover(value, () => undefined);
        }
    }
    return { ref: pulumi.recover(build.ref, fail), digest: pulumi.recover(build.digest, fail) };
}
