import * as path from "path";
import { evaluate, Evaluation } from "./mocks";
import { applyOverrides, readStackConfig, ROOT } from "./stackFile";

export interface StackEvaluation {
    /** `key=value` overrides, as `pulumi config set` would apply them. Default: none. */
    readonly overrides?: readonly string[];
    /** Secret config values (`namespace:key` → plaintext). Default: none. */
    readonly secrets?: Record<string, string>;
    /** Outputs per stack name for StackReferences. Default: the harness's defaults. */
    readonly stackOutputs?: Record<string, Record<string, any>>;
}

/**
 * Evaluates the project's program (index.ts) with a stack's committed config,
 * from the project directory as the engine would run it: what synth, bake and
 * the program tests all see.
 */
export async function evaluateStack(stack: string, options: StackEvaluation = {}): Promise<Evaluation> {
    const map = applyOverrides(readStackConfig(stack), options.overrides ?? []);
    const secrets = options.secrets ?? {};
    const cwd = process.cwd();
    process.chdir(ROOT);
    try {
        return await evaluate({
            stack,
            config: { ...map.config, ...secrets },
            secretKeys: [...map.secretKeys, ...Object.keys(secrets)],
            stackOutputs: options.stackOutputs,
            program: path.join(ROOT, "index.ts"),
        });
    } finally {
        process.chdir(cwd);
    }
}
