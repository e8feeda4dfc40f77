// npm run synth -- --stack <name> [--json] [--graph] [--config key=value ...]
// Evaluates the program with a stack's config under Pulumi mocks: no engine,
// no credentials. Prints what the program declares.
import { parseStackArgs, runMain } from "./harness/cli";
import { evaluateStack } from "./harness/evaluateStack";
import { toJson, toMermaid, toTree } from "./harness/render";

runMain("synth", async () => {
    const args = parseStackArgs(process.argv.slice(2), "synth --stack <name> [--json] [--graph] [--config key=value ...]", { flags: ["--json", "--graph"] });
    const { resources } = await evaluateStack(args.stack, { overrides: args.config });
    const text = args.flags.has("--json") ? toJson(resources) : args.flags.has("--graph") ? toMermaid(resources) : toTree(resources);
    process.stdout.write(text + "\n");
});
