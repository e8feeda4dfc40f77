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

/** Collects problems and throws one ValidationError if there are any. */
export class Problems {
    private readonly lines: string[] = [];

    add(line: string): void {
        this.lines.push(line);
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
