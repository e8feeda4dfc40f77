// npm run synth -- --stack <name> [--json] [--graph] [--config key=value ...]
// Evaluates the program with a stack's config under Pulumi mocks: no engine,
// no credentials. Prints what the program declares.
import * as path from "path";
import { ValidationError } from "../components/errors";
import { evaluate } from "./harness/mocks";
import { toJson, toMermaid, toTree } from "./harness/render";
import { applyOverrides, readStackConfig, ROOT } from "./harness/stackFile";

interface Options {
    stack?: string;
    json: boolean;
    graph: boolean;
    config: string[];
}

export function parseArgs(argv: readonly string[]): Options {
    const o: Options = { json: false, graph: false, config: [] };
    for (let i = 0; i < argv.length; i++) {
        const a = argv[i];
        if (a === "--stack" || a === "-s") {
            o.stack = argv[++i];
        } else if (a === "--json") {
            o.json = true;
        } else if (a === "--graph") {
            o.graph = true;
        } else if (a === "--config" || a === "-c") {
            o.config.push(argv[++i]);
        } else if (a.startsWith("--config=")) {
            o.config.push(a.slice("--config=".length));
        } else {
            throw new Error(`unknown argument ${JSON.stringify(a)}; usage: synth --stack <name> [--json] [--graph] [--config key=value ...]`);
        }
    }
    if (!o.stack) {
        throw new Error("--stack is required, e.g. --stack local");
    }
    return o;
}

async function main(): Promise<void> {
    const options = parseArgs(process.argv.slice(2));
    const { config, secretKeys } = applyOverrides(readStackConfig(options.stack!), options.config);
    process.chdir(ROOT);
    const { resources } = await evaluate({ stack: options.stack!, config, secretKeys, program: path.join(ROOT, "index.ts") });
    process.stdout.write((options.json ? toJson(resources) : options.graph ? toMermaid(resources) : toTree(resources)) + "\n");
}

main().catch((err) => {
    process.stderr.write(`synth: ${err instanceof ValidationError ? err.message : err?.stack ?? err}\n`);
    process.exit(1);
});
