import { ValidationError } from "../../components/errors";
import { UsageError } from "./usageError";

export { UsageError };

export interface StackArgs {
    readonly stack: string;
    /** `--config key=value` overrides, in order. */
    readonly config: string[];
    /** Boolean flags given, e.g. `--json`. */
    readonly flags: Set<string>;
    /** `--out FILE`, where the command takes one. */
    readonly out?: string;
}

/**
 * The command line shared by synth and bake: `--stack <name>`, any number of
 * `--config key=value`, plus the command's own boolean flags and `--out`.
 */
export function parseStackArgs(argv: readonly string[], usage: string, known: { flags?: readonly string[]; out?: boolean } = {}): StackArgs {
    let stack: string | undefined;
    let out: string | undefined;
    const config: string[] = [];
    const flags = new Set<string>();
    for (let i = 0; i < argv.length; i++) {
        const a = argv[i];
        if (a === "--stack" || a === "-s") {
            stack = argv[++i];
        } else if (a === "--config" || a === "-c") {
            config.push(argv[++i]);
        } else if (a.startsWith("--config=")) {
            config.push(a.slice("--config=".length));
        } else if (known.out && (a === "--out" || a === "-o")) {
            out = argv[++i];
        } else if (known.flags?.includes(a)) {
            flags.add(a);
        } else {
            throw new UsageError(`unknown argument ${JSON.stringify(a)}; usage: ${usage}`);
        }
    }
    if (!stack) {
        throw new UsageError("--stack is required, e.g. --stack local");
    }
    return { stack, config, flags, out };
}

/**
 * What a command prints for an error: the message of a ValidationError or a
 * UsageError as it is; anything else is a fault of ours, named as such. A
 * stack trace only with IMAGEFLEET_DEBUG=1.
 */
export function errorText(err: unknown, env: NodeJS.ProcessEnv = process.env): string {
    const e = err instanceof Error ? err : undefined;
    if (env.IMAGEFLEET_DEBUG === "1") {
        return e?.stack ?? String(err);
    }
    if (err instanceof ValidationError || err instanceof UsageError) {
        return err.message;
    }
    return `internal error: ${e ? `${e.name}: ${e.message}` : String(err)} (IMAGEFLEET_DEBUG=1 prints the stack trace)`;
}

/** Runs a command's main, printing an error without a stack trace (see errorText) and exiting 1 on any error. */
export function runMain(command: string, main: () => Promise<void>): void {
    main().catch((err) => {
        process.stderr.write(`${command}: ${errorText(err)}\n`);
        process.exit(1);
    });
}
