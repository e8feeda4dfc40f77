import * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { didYouMean, Issue, listOf, show, unknownKeyMessage } from "./errors";

/**
 * Shared pieces of the argument and config schemas (zod 4). Every message a
 * schema produces is written here or next to the rule in a module's
 * `schema.ts`; `parseIssues` turns zod's issues into `Issue`s with a path and
 * a message that says what the value was and what would be valid.
 */
export { z };

/** What a schema says it accepts, for messages (`must be <hint>, got …`) and docs. */
export interface SchemaMeta {
    /** `a registry host such as "registry.localhost:5000"`. */
    readonly hint?: string;
    /** Marks the branch of `input()` that accepts Outputs and Promises. */
    readonly outputLike?: boolean;
    /** Default, as the docs show it. */
    readonly default?: string;
    /** Description (the docs and Pulumi.yaml). */
    readonly description?: string;
}

const metaOf = (inst: unknown): SchemaMeta | undefined => (inst ? (z.globalRegistry.get(inst as z.ZodType) as SchemaMeta | undefined) : undefined);

/** Attaches the hint used in messages. */
export function hint<T extends z.ZodType>(schema: T, text: string): T {
    return schema.meta({ ...metaOf(schema), hint: text }) as T;
}

/** An Output, or a Promise: a value only known when resources resolve; only plain values are checked. */
export function isOutputLike(value: unknown): boolean {
    return pulumi.Output.isInstance(value) || (typeof value === "object" && value !== null && typeof (value as { then?: unknown }).then === "function");
}

const outputLike = z.custom<pulumi.Output<unknown> | Promise<unknown>>(isOutputLike).meta({ outputLike: true });

/** `pulumi.Input<T>`: a plain value checked by `schema`, or an Output/Promise taken as it is. */
export function input<T extends z.ZodType>(schema: T): z.ZodType<pulumi.Input<z.output<T>>> {
    const meta = metaOf(schema);
    return z.union([schema, outputLike]).meta({ ...(meta?.hint ? { hint: meta.hint } : {}) }) as unknown as z.ZodType<pulumi.Input<z.output<T>>>;
}

/** A string matching `re`; anything else is refused with `<value> is not <what>`. */
export function matching(re: RegExp, what: string): z.ZodString {
    return hint(z.string().regex(re, { error: (iss) => `${show(iss.input)} is not ${what}` }), what);
}

/** A string that `problem` finds nothing wrong with; `problem` returns the reason it is not valid. */
export function checked(problem: (value: string) => string | undefined, what: string): z.ZodString {
    return hint(z.string().superRefine((value, ctx) => {
        const reason = problem(value);
        if (reason !== undefined) {
            ctx.addIssue({ code: "custom", message: reason, input: value });
        }
    }), what) as z.ZodString;
}

/** A whole number in a range. */
export function wholeNumber(min: number, max: number, what: string): z.ZodNumber {
    const error = (iss: { input?: unknown }) => (iss.input === undefined ? undefined : `must be ${what}, got ${show(iss.input)}`);
    return hint(z.number({ error }).int({ error }).min(min, { error }).max(max, { error }), what);
}

/** A list with at least one entry; an empty one is refused with `message`. */
export function nonEmpty<T extends z.ZodType>(item: T, message: string, what: string): z.ZodArray<T> {
    return hint(z.array(item).min(1, { error: message }), what);
}

/** A map from name to value whose keys are checked one by one, so each bad key is named on its own. */
export function keyedMap<V extends z.ZodType>(key: (k: string) => string | undefined, value: V, what: string): z.ZodType<Record<string, z.output<V>>> {
    return hint(z.record(z.string(), value).superRefine((map, ctx) => {
        for (const k of Object.keys(map)) {
            const reason = key(k);
            if (reason !== undefined) {
                ctx.addIssue({ code: "custom", message: reason, path: [k], input: k });
            }
        }
    }), what) as unknown as z.ZodType<Record<string, z.output<V>>>;
}

const TYPE_WORDS: Record<string, string> = {
    string: "a string",
    number: "a number",
    int: "a whole number",
    boolean: "true or false",
    object: "an object",
    array: "a list",
    record: "a map",
    map: "a map",
    null: "null",
    never: "absent",
};

function validKeysOf(inst: unknown): string[] {
    const def = (inst as { _zod?: { def?: { shape?: object; keyType?: { options?: unknown[] } } } })?._zod?.def;
    if (def?.shape) {
        return Object.keys(def.shape);
    }
    return (def?.keyType?.options ?? []).map(String);
}

function sizeWord(origin: string, n: number): string {
    if (origin === "array" || origin === "set") {
        return `${n} ${n === 1 ? "entry" : "entries"}`;
    }
    return origin === "string" ? `${n} ${n === 1 ? "character" : "characters"}` : String(n);
}

/**
 * For an object that none of a union's object forms takes: the form one of
 * its keys is a typo of (`{"locl": …}` → `{"local": …}`), from the keys the
 * forms refused it with.
 */
function unionKeySuggestion(iss: { input?: unknown; errors?: readonly (readonly { code?: string; message?: string }[])[] }): string | undefined {
    const input = iss.input;
    if (typeof input !== "object" || input === null || Array.isArray(input)) {
        return undefined;
    }
    const valid = [...new Set((iss.errors ?? []).flat()
        .filter((i) => i.code === "unrecognized_keys" && i.message?.startsWith(UNKNOWN_KEYS))
        .flatMap((i) => JSON.parse(i.message!.slice(UNKNOWN_KEYS.length)) as string[]))];
    for (const key of Object.keys(input)) {
        const near = valid.includes(key) ? undefined : didYouMean(key, valid);
        if (near !== undefined) {
            return `{${JSON.stringify(near)}: …}`;
        }
    }
    return undefined;
}

/** The messages of zod's own checks, in our words: the bad value, then what would be valid. */
function errorMap(iss: z.core.$ZodRawIssue): string | undefined {
    const meta = metaOf(iss.inst);
    const valid = meta?.hint;
    switch (iss.code) {
        case "invalid_type":
            if (iss.input === undefined) {
                return valid ? `is required: ${valid}` : "is required";
            }
            return `must be ${valid ?? TYPE_WORDS[iss.expected] ?? iss.expected}, got ${show(iss.input)}`;
        case "invalid_value":
            return `${show(iss.input)} is not valid; valid: ${listOf(iss.values.map(String))}`;
        case "unrecognized_keys":
            // Split per key in flatten(), which has no access to the schema: carry the valid keys.
            return UNKNOWN_KEYS + JSON.stringify(validKeysOf(iss.inst));
        case "invalid_union": {
            const near = unionKeySuggestion(iss);
            return `must be ${valid ?? "one of the documented forms"}, got ${show(iss.input)}${near ? `; did you mean ${near}?` : ""}`;
        }
        case "too_small": {
            const min = Number(iss.minimum);
            if (iss.origin === "array" || iss.origin === "string") {
                return min === 1 && iss.origin === "string" ? "must not be empty" : `must have at least ${sizeWord(iss.origin, min)}, got ${show(iss.input)}`;
            }
            return `must be ${valid ?? `at least ${min}`}, got ${show(iss.input)}`;
        }
        case "too_big": {
            const max = Number(iss.maximum);
            if (iss.origin === "array" || iss.origin === "string") {
                return `must have at most ${sizeWord(iss.origin, max)}, got ${show(iss.input)}`;
            }
            return `must be ${valid ?? `at most ${max}`}, got ${show(iss.input)}`;
        }
        case "invalid_format":
            return `${show(iss.input)} is not ${valid ?? `a valid ${iss.format}`}`;
        case "not_multiple_of":
            return `must be a multiple of ${String(iss.divisor)}, got ${show(iss.input)}`;
        case "invalid_key":
            return `key ${show(iss.input)} is not valid`;
        case "invalid_element":
            return `has an invalid entry ${show(iss.input)}`;
        default:
            return undefined;
    }
}

type FinalIssue = z.core.$ZodIssue;

const UNKNOWN_KEYS = "\u0000unknown-keys:";

const isOutputBranch = (branch: readonly FinalIssue[]) =>
    branch.length === 1 && branch[0].code === "custom" && branch[0].path.length === 0;

/**
 * Of the union's branches, the one the value was meant for: the branch whose
 * problems are inside the value (its shape matched) rather than about its
 * type, with the fewest problems. None when every branch refused the value's
 * type; then the union's own message ("must be A or B, got …") stands.
 */
function bestBranch(issue: Extract<FinalIssue, { code: "invalid_union" }>): FinalIssue[] | undefined {
    const branches = issue.errors.filter((b) => !isOutputBranch(b));
    const deep = branches.filter((b) => b.some((i) => i.path.length > 0 || (i.code !== "invalid_type" && i.code !== "invalid_value" && i.code !== "invalid_union")));
    if (deep.length === 0) {
        return branches.length === 1 ? branches[0] : undefined;
    }
    const fewest = Math.min(...deep.map((b) => b.length));
    const best = deep.filter((b) => b.length === fewest);
    return best.length === 1 ? best[0] : undefined;
}

function flatten(issues: readonly FinalIssue[], base: readonly PropertyKey[], out: Issue[]): void {
    for (const issue of issues) {
        const path = [...base, ...issue.path];
        if (issue.code === "invalid_union") {
            const branch = bestBranch(issue);
            if (branch !== undefined) {
                flatten(branch, path, out);
                continue;
            }
        }
        if (issue.code === "unrecognized_keys" && issue.message.startsWith(UNKNOWN_KEYS)) {
            const valid = JSON.parse(issue.message.slice(UNKNOWN_KEYS.length)) as string[];
            out.push(...issue.keys.map((key) => ({ path: [...path, key], message: unknownKeyMessage(key, valid) })));
            continue;
        }
        out.push({ path, message: issue.message });
    }
}

/** Checks a value against a schema: the problems, each with its path and message; empty when valid. */
export function parseIssues(schema: z.ZodType, value: unknown, base: readonly PropertyKey[] = []): Issue[] {
    const result = schema.safeParse(value, { error: errorMap });
    if (result.success) {
        return [];
    }
    const out: Issue[] = [];
    flatten(result.error.issues, base, out);
    return out;
}
