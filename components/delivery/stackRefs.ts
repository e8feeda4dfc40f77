import * as pulumi from "@pulumi/pulumi";
import { validateStackImageRefs } from "./validate";

/** A multi-platform ref split into its parts: `repo:tag@sha256:…`. */
export interface ParsedRef {
    readonly repository: string;
    readonly tag: string;
    readonly digest: string;
}

const DIGEST = /^sha256:[0-9a-f]{64}$/;

/** Splits `repo[:tag]@sha256:…`; undefined when it is not pinned by a sha256 digest. */
export function parseRef(ref: string): ParsedRef | undefined {
    const at = ref.lastIndexOf("@");
    if (at <= 0 || !DIGEST.test(ref.slice(at + 1))) {
        return undefined;
    }
    const name = ref.slice(0, at);
    const colon = name.lastIndexOf(":");
    // A colon before the last slash is a registry port, not a tag.
    const hasTag = colon > name.lastIndexOf("/");
    return {
        repository: hasTag ? name.slice(0, colon) : name,
        tag: hasTag ? name.slice(colon + 1) : "",
        digest: ref.slice(at + 1),
    };
}

/** The name an ImageFamily or a Promotion exports its refs under. */
export const REFS_OUTPUT = "refs";

/** Options of `StackImageRefs`. */
export interface StackImageRefsOptions {
    /** Stack output holding `{ "<image>[-variant]": "repo:tag@sha256:…" }`. Default: `refs`. */
    readonly output?: string;
    /** Resource options for the StackReference (e.g. `parent`). Default: none. */
    readonly opts?: pulumi.CustomResourceOptions;
}

/**
 * The image refs another stack exported, for any Pulumi program:
 *
 * ```ts
 * const staging = new StackImageRefs("acme/imagefleet/staging");
 * new aws.ecs.TaskDefinition("app", { containerDefinitions: staging.ref("runtime").apply(...) });
 * ```
 *
 * Each ref is pinned by digest. Reading fails with the stack's name and the
 * image when the stack has not exported it, instead of deploying `undefined`.
 */
export class StackImageRefs {
    /** The StackReference the refs are read through. */
    readonly reference: pulumi.StackReference;
    /** The stack output read (`options.output`). */
    readonly output: string;
    /** Every ref the stack exported, by image key. */
    readonly refs: pulumi.Output<Record<string, string>>;

    constructor(
        /** Fully qualified stack name, `org/project/stack`. */
        readonly stack: string,
        options: StackImageRefsOptions = {},
    ) {
        validateStackImageRefs(stack, options);
        this.output = options.output ?? REFS_OUTPUT;
        this.reference = new pulumi.StackReference(stack, { name: stack }, options.opts);
        this.refs = this.reference.requireOutput(this.output).apply((value) => {
            if (typeof value !== "object" || value === null || Array.isArray(value)) {
                throw new Error(`stack ${JSON.stringify(stack)}: output ${JSON.stringify(this.output)} is not a map of image refs (got ${JSON.stringify(value)})`);
            }
            return value as Record<string, string>;
        });
    }

    /** The ref (`repo:tag@sha256:…`) of an image, `image` or `image-variant`. */
    ref(image: string): pulumi.Output<string> {
        return this.refs.apply((refs) => {
            const ref = refs[image];
            if (typeof ref !== "string") {
                const have = Object.keys(refs).sort().join(", ") || "(none)";
                throw new Error(`stack ${JSON.stringify(this.stack)} has no image ${JSON.stringify(image)} in its ${JSON.stringify(this.output)} output; it has: ${have}`);
            }
            if (parseRef(ref) === undefined) {
                throw new Error(`stack ${JSON.stringify(this.stack)}: image ${JSON.stringify(image)} has ref ${JSON.stringify(ref)}, which is not pinned by a sha256 digest`);
            }
            return ref;
        });
    }
}
