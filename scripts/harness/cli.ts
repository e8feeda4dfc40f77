import { ValidationError } from "../../components/errors";

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
            throw new Error(`unknown argument ${JSON.stringify(a)}; usage: ${usage}`);
        }
    }
    if (!stack) {
        throw new Error("--stack is required, e.g. --stack local");
    }
    return { stack, config, flags, out };
}

/** Runs a command's main, printing a validation problem without a stack trace and exiting 1 on any error. */
export function runMain(command: string, main: () => Promise<void>): void {
    main().catch((err) => {
        process.stderr.write(`${command}: ${err instanceof ValidationError ? err.message : err?.stack ?? err}\n`);
        process.exit(1);
    });
}
