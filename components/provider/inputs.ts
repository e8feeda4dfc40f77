import * as pulumi from "@pulumi/pulumi";
import type { BuilderPool, FromSource, ImageFamilyArgs, ImageSpec } from "../images/types";

/** The package's name in type tokens (`imagefleet:<module>:<Type>`) and plugin names. */
export const PACKAGE = "imagefleet";

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
function known<T>(component: string, key: string, value: unknown): T {
    if (pulumi.Output.isInstance(value)) {
        throw new Error(`${component}: \`${key}\` must be a plain value when the program runs, not an output of another resource or a secret; it decides which resources the family declares`);
    }
    return value as T;
}

function fromOf(component: string, i: number, spec: Inputs): ImageSpec["from"] {
    const names = spec.from as string[] | undefined;
    const contexts = spec.fromContexts as Record<string, { image?: string; local?: string }> | undefined;
    if (names !== undefined && contexts !== undefined) {
        throw new Error(`${component}: images[${i}] sets both \`from\` and \`fromContexts\`; use \`from\` for image names or \`fromContexts\` for named contexts, not both`);
    }
    if (contexts === undefined) {
        return names;
    }
    const out: Record<string, FromSource> = {};
    for (const [name, c] of Object.entries(contexts)) {
        if ((c.image === undefined) === (c.local === undefined)) {
            throw new Error(`${component}: images[${i}].fromContexts.${name} must set exactly one of \`image\` or \`local\``);
        }
        out[name] = c.image !== undefined ? { image: c.image } : { local: c.local as string };
    }
    return out;
}

/** The schema's ImageFamily inputs as `ImageFamilyArgs` (splits joined; what must be known, checked). */
export function imageFamilyArgs(name: string, inputs: Inputs): ImageFamilyArgs {
    const component = `ImageFamily ${name}`;
    const images = known<Inputs[] | undefined>(component, "images", inputs.images);
    const single = known<Record<string, string> | undefined>(component, "builders", inputs.builders) ?? {};
    const pools = known<Record<string, string[]> | undefined>(component, "builderPools", inputs.builderPools) ?? {};
    const both = Object.keys(single).filter((p) => p in pools);
    if (both.length > 0) {
        throw new Error(`${component}: ${both.join(", ")} set in both \`builders\` and \`builderPools\`; give each platform one builder or one pool`);
    }
    const builders: Record<string, BuilderPool> = { ...single, ...pools };
    const args: Record<string, unknown> = { ...inputs, builders };
    delete args.builderPools;
    for (const key of ["platforms", "git", "variants", "cache", "tags", "checks", "contextLimits", "buildArgs", "sourceDateEpoch"]) {
        known(component, key, inputs[key]);
    }
    args.images = (images ?? []).map((spec, i) => {
        const out: Inputs = { ...spec, from: fromOf(component, i, spec) };
        delete out.fromContexts;
        return Object.fromEntries(Object.entries(out).filter(([, v]) => v !== undefined));
    });
    return Object.fromEntries(Object.entries(args).filter(([, v]) => v !== undefined)) as unknown as ImageFamilyArgs;
}
