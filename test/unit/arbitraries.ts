import * as fc from "fast-check";
import { ValidationError } from "../../components/errors";

/**
 * Arbitraries for the property tests: random JSON, and mutations of a valid
 * value (a subtree replaced by random JSON, a key dropped, a key misspelt), so
 * the cases reach deep into a schema instead of failing at its top.
 */

export const json = fc.jsonValue({ maxDepth: 3 });

type Path = (string | number)[];

function pathsOf(value: unknown, at: Path = [], out: Path[] = []): Path[] {
    out.push(at);
    if (Array.isArray(value)) {
        value.forEach((v, i) => pathsOf(v, [...at, i], out));
    } else if (typeof value === "object" && value !== null) {
        for (const [k, v] of Object.entries(value)) {
            pathsOf(v, [...at, k], out);
        }
    }
    return out;
}

const clone = <T>(v: T): T => (v === undefined ? v : JSON.parse(JSON.stringify(v)));

function typos(key: string): string[] {
    const out = new Set<string>();
    for (let i = 0; i < key.length; i++) {
        out.add(key.slice(0, i) + key.slice(i + 1));
        if (i + 1 < key.length) {
            out.add(key.slice(0, i) + key[i + 1] + key[i] + key.slice(i + 2));
        }
    }
    out.add(key.toUpperCase());
    out.delete(key);
    return [...out];
}

type Edit = { kind: "replace"; path: Path; value: unknown } | { kind: "drop"; path: Path } | { kind: "rename"; path: Path; to: string };

function apply(root: unknown, edit: Edit): unknown {
    if (edit.path.length === 0) {
        return edit.kind === "replace" ? edit.value : edit.kind === "drop" ? undefined : root;
    }
    const copy = clone(root) as Record<string | number, unknown>;
    let parent: any = copy;
    for (const seg of edit.path.slice(0, -1)) {
        parent = parent[seg];
    }
    const last = edit.path[edit.path.length - 1];
    if (edit.kind === "replace") {
        parent[last] = edit.value;
    } else if (Array.isArray(parent)) {
        parent.splice(Number(last), 1);
    } else if (edit.kind === "drop") {
        delete parent[last];
    } else {
        parent[edit.to] = parent[last];
        delete parent[last];
    }
    return copy;
}

/** The valid value itself, random JSON, or the valid value with one to three edits. */
export function near(valid: unknown): fc.Arbitrary<unknown> {
    const paths = pathsOf(valid);
    const renames = paths.filter((p) => typeof p[p.length - 1] === "string").flatMap((p) => typos(String(p[p.length - 1])).map((to) => ({ path: p, to })));
    const edit: fc.Arbitrary<Edit> = fc.oneof(
        { weight: 5, arbitrary: fc.record({ kind: fc.constant("replace" as const), path: fc.constantFrom(...paths), value: json }) },
        { weight: 2, arbitrary: fc.record({ kind: fc.constant("drop" as const), path: fc.constantFrom(...paths) }) },
        ...(renames.length > 0 ? [{ weight: 2, arbitrary: fc.constantFrom(...renames).map((r) => ({ kind: "rename" as const, ...r })) }] : []),
    );
    return fc.oneof(
        { weight: 1, arbitrary: fc.constant(clone(valid)) },
        { weight: 3, arbitrary: json },
        { weight: 8, arbitrary: fc.array(edit, { minLength: 1, maxLength: 3 }).map((edits) => {
            let v: unknown = clone(valid);
            for (const e of edits) {
                try {
                    v = apply(v, e);
                } catch {
                    // An earlier edit removed the path; the value stays as it is.
                }
            }
            return v;
        }) },
    );
}

/** A problem line names where it is: a key path, then `: `. */
const QUOTED = String.raw`\["(?:[^"\\]|\\.)*"\]`;
export const NAMES_A_KEY = new RegExp(String.raw`^(?:imagefleet:)?(?:arguments|[A-Za-z_][\w-]*|${QUOTED})(?:\.[A-Za-z_][\w-]*|\[\d+\]|${QUOTED})*: \S`);

/** Runs a declaration: success, or a ValidationError whose every line names a key. Anything else fails the property. */
export function succeedsOrNamesAKey(declare: () => unknown): "ok" | "refused" {
    try {
        declare();
        return "ok";
    } catch (err) {
        if (!(err instanceof ValidationError)) {
            throw new Error(`not a ValidationError: ${err instanceof Error ? err.stack : String(err)}`, { cause: err });
        }
        for (const line of err.problems) {
            if (!NAMES_A_KEY.test(line)) {
                throw new Error(`a problem that names no key: ${JSON.stringify(line)}\n${err.message}`, { cause: err });
            }
        }
        return "refused";
    }
}
