import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { runProgram, valueOf } from "./mocks";

// scripts/test-consumer.sh writes every example of docs/components.md to
// examples/ (one module each); they type-check with the program (tsc) and
// must also run: each declares its components under mocks without an error.
const EXAMPLES = path.join(__dirname, "..", "examples");
const files = fs.existsSync(EXAMPLES) ? fs.readdirSync(EXAMPLES).filter((f) => f.endsWith(".ts")).sort() : [];

/** The config the examples `require`, as `pulumi config set [--secret]` would store it. */
const CONFIG = {
    "imagefleet-consumer:ghcrUser": "acme-bot",
    "imagefleet-consumer:ghcrToken": "ghp_mock",
};

describe("the documented examples", () => {
    before(() => {
        // What CI would provide; the examples resolve the commit from it.
        process.env.GIT_COMMIT ??= "0123456789abcdef0123456789abcdef01234567";
        process.env.GIT_BRANCH ??= "main";
    });

    for (const file of files) {
        it(`${file} runs under mocks and declares its resources`, async () => {
            const run = await runProgram(path.join(EXAMPLES, file), "dev", CONFIG);
            assert.ok(run.resources.length > 0, `${file} declared nothing`);
            // Every exported output resolves (a failing apply would reject here).
            for (const [name, value] of Object.entries(run.outputs)) {
                await valueOf(value as pulumi.Input<unknown>).catch((err: unknown) => assert.fail(`${file}: output ${name}: ${String(err)}`));
            }
        });
    }
});
