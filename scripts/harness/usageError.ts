/**
 * A mistake in how a command was called or in a file it reads (an unknown
 * stack, a YAML syntax error, a bad flag): printed as its message alone, like
 * a ValidationError, because a stack trace would only point into the harness.
 */
export class UsageError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "UsageError";
    }
}
