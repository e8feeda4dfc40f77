import * as pulumi from "@pulumi/pulumi";

/**
 * Raised before any resource is declared when a component's arguments or the
 * stack config are invalid. Every problem is listed on its own line so a user
 * fixes them all in one pass instead of one per `pulumi up`.
 *
 * Extends `pulumi.RunError` so the engine prints the message without a stack trace.
 */
export class ValidationError extends pulumi.RunError {
    constructor(
        /** Who complained, e.g. `ImageFamily "example"` or `stack config`. */
        readonly subject: string,
        /** The stack being evaluated. */
        readonly stack: string,
        /** One line per problem; each names the key and what would be valid. */
        readonly problems: readonly string[],
    ) {
        super(`${subject} (stack "${stack}") is invalid:\n` + problems.map((p) => `  - ${p}`).join("\n"));
        this.name = "ValidationError";
    }
}

/** One problem: where it is (a path into the arguments or a config value) and what is wrong. */
export interface Issue {
    readonly path: readonly PropertyKey[];
    readonly message: string;
}

/**
 * `images[2].from.dev-env`, `builders["linux/amd64"]`: the path a user would
 * write to reach the value. Keys that read as names use dots, others brackets.
 */
export function pathText(path: readonly PropertyKey[]): string {
    let s = "";
    for (const seg of path) {
        if (typeof seg === "number") {
            s += `[${seg}]`;
        } else {
            const key = String(seg);
            s += /^[A-Za-z_][A-Za-z0-9_-]*$/.test(key) ? `${s === "" ? "" : "."}${key}` : `[${JSON.stringify(key)}]`;
        }
    }
    return s;
}

/** `prefix` + path + `: ` + message; the prefix is a config key (`imagefleet:`) or empty for component arguments. */
export function issueLine(issue: Issue, prefix = ""): string {
    const where = pathText(issue.path);
    const at = `${prefix}${where}`;
    return `${at === "" ? "arguments" : at}: ${issue.message}`;
}

/** Collects problems and throws one ValidationError if there are any. */
export class Problems {
    private readonly lines: string[] = [];

    add(line: string): void {
        this.lines.push(line);
    }

    /** Adds issues, each as `<prefix><path>: <message>`. */
    addIssues(issues: readonly Issue[], prefix = ""): void {
        for (const issue of issues) {
            this.lines.push(issueLine(issue, prefix));
        }
    }

    get count(): number {
        return this.lines.length;
    }

    throwIfAny(subject: string, stack: string): void {
        if (this.lines.length > 0) {
            throw new ValidationError(subject, stack, this.lines);
        }
    }
}

/** `a, b, c` for error messages listing what would be valid. */
export function listOf(values: readonly string[]): string {
    return values.length === 0 ? "(none)" : values.map((v) => JSON.stringify(v)).join(", ");
}

/** A value as a message shows it: JSON, shortened; what JSON cannot show is named. */
export function show(value: unknown): string {
    if (value === undefined) {
        return "nothing";
    }
    if (typeof value === "function") {
        return "a function";
    }
    if (typeof value === "bigint") {
        return `${value}n`;
    }
    if (typeof value === "number" && !Number.isFinite(value)) {
        return String(value);
    }
    let text: string;
    try {
        text = JSON.stringify(value) ?? String(value);
    } catch {
        text = Object.prototype.toString.call(value);
    }
    return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/** Edit distance (insertions, deletions, substitutions), for did-you-mean suggestions. */
export function levenshtein(a: string, b: string): number {
    let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
    for (let i = 1; i <= a.length; i++) {
        const row = [i];
        for (let j = 1; j <= b.length; j++) {
            row[j] = Math.min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
        }
        prev = row;
    }
    return prev[b.length];
}

/**
 * The valid name closest to a mistyped one, when it is close enough to be a
 * typo: at most a third of its letters wrong (case ignored), the same words
 * in another case, or the one valid name it is the last part of (`amd64`).
 */
export function didYouMean(input: string, valid: readonly string[]): string | undefined {
    const low = input.toLowerCase();
    // A name given without its prefix: `amd64` for `linux/amd64`.
    const prefixed = valid.filter((name) => name.toLowerCase().endsWith(`/${low}`));
    if (prefixed.length === 1) {
        return prefixed[0];
    }
    let best: { name: string; d: number } | undefined;
    for (const name of valid) {
        const d = levenshtein(low, name.toLowerCase());
        if (best === undefined || d < best.d) {
            best = { name, d };
        }
    }
    return best !== undefined && best.d <= Math.max(1, Math.floor(Math.max(input.length, best.name.length) / 3)) ? best.name : undefined;
}

/** The message for a key an object does not take: a suggestion where one is close, and the valid keys. */
export function unknownKeyMessage(key: string, valid: readonly string[], spell: (key: string) => string = (k) => JSON.stringify(k)): string {
    const near = didYouMean(key, valid);
    const list = valid.length === 0 ? "(none)" : valid.map(spell).join(", ");
    return near === undefined ? `unknown key (valid keys: ${list})` : `unknown key; did you mean ${spell(near)}? (valid keys: ${list})`;
}
