import * as pulumi from "@pulumi/pulumi";
import { ValidationError } from "../errors";
import type { BuilderPool, FromSource, ImageFamilyArgs, ImageSpec } from "../images/types";

/**
 * Schema fields that carry half of a TypeScript union a schema cannot express
 * in every language: schema field → the TypeScript field it joins into.
 * `builders` (one name per platform) and `builderPools` (a list per
 * platform) become `ImageFamilyArgs.builders`; `from` (image names) and
 * `fromContexts` (context name → image or local directory) become
 * `ImageSpec.from`.
 */
export const SPLIT_FIELDS: Readonly<Record<string, string>> = { builderPools: "builders", fromContexts: "from" };

type Inputs = Record<string, unknown>;

/**
 * A value the family decides its resources from (names, graph, platforms):
 * it must be known when the program runs. A constructed component receives
 * a field as an Output when it depends on another resource or is secret.
 */
function known(key: string, value: unknown, problems: string[]): void {
    if (pulumi.Output.isInstance(value)) {
        problems.push(`${key}: must be a plain value when the program runs, not an output of another resource or a secret; it decides which resources the family declares`);
    }
}

function fromOf(i: number, spec: Inputs, problems: string[]): ImageSpec["from"] {
    const names = spec.from as string[] | undefined;
    const contexts = spec.fromContexts as Record<string, { image?: string; local?: string }> | undefined;
    if (names !== undefined && contexts !== undefined) {
        problems.push(`images[${i}]: sets both from and fromContexts; valid: from (image names) or fromContexts (named contexts), not both`);
    }
    if (contexts === undefined) {
        return names;
    }
    const out: Record<string, FromSource> = {};
    for (const [name, c] of Object.entries(contexts)) {
        if ((c.image === undefined) === (c.local === undefined)) {
            problems.push(`images[${i}].fromContexts.${name}: must set exactly one of image (an image of the family) or local (a directory)`);
        }
        out[name] = c.image !== undefined ? { image: c.image } : { local: c.local as string };
    }
    return out;
}

/**
 * The schema's ImageFamily inputs as `ImageFamilyArgs` (splits joined; what
 * must be known, checked). The family validates the rest as it does for a
 * TypeScript program, so both get the same messages.
 */
export function imageFamilyArgs(name: string, inputs: Inputs): ImageFamilyArgs {
    const problems: string[] = [];
    for (const key of ["images", "builders", "builderPools", "platforms", "git", "variants", "cache", "tags", "checks", "contextLimits", "buildArgs", "sourceDateEpoch"]) {
        known(key, inputs[key], problems);
    }
    if (problems.length > 0) {
        throw new ValidationError(`ImageFamily "${name}"`, pulumi.getStack(), problems);
    }
    const single = (inputs.builders ?? {}) as Record<string, string>;
    const pools = (inputs.builderPools ?? {}) as Record<string, string[]>;
    for (const platform of Object.keys(single).filter((p) => p in pools)) {
        problems.push(`builders.${platform}: also set in builderPools; valid: one builder (builders) or one pool (builderPools) per platform`);
    }
    const builders: Record<string, BuilderPool> = { ...single, ...pools };
    const args: Record<string, unknown> = { ...inputs, builders };
    delete args.builderPools;
    args.images = ((inputs.images ?? []) as Inputs[]).map((spec, i) => {
        const out: Inputs = { ...spec, from: fromOf(i, spec, problems) };
        delete out.fromContexts;
        return Object.fromEntries(Object.entries(out).filter(([, v]) => v !== undefined));
    });
    if (problems.length > 0) {
        throw new ValidationError(`ImageFamily "${name}"`, pulumi.getStack(), problems);
    }
    return Object.fromEntries(Object.entries(args).filter(([, v]) => v !== undefined)) as unknown as ImageFamilyArgs;
}
