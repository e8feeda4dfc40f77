import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { ROOT } from "../../scripts/harness/stackFile";
import { CATALOGUE, renderCatalogue } from "./catalogue";
import { assertMentions } from "./helpers";

/** Issue 11's classes of bad input: each has a case here, refused by name before anything is declared. */
const ISSUE_CLASSES = [
    "unknown key (top level)", "unknown key (inside registry)", "unknown key (inside an image entry)",
    "two resources push the same tag (variant ends in a platform suffix)", "two resources push the same tag (variant named like a platform)",
    "registry address", "wrong JSON type", "branch name git forbids", "two branches share a cache ref", "build arg name",
    "runtime with no artifact", "artifactSource/localArtifactDir with custom images", "semver with build metadata",
    "YAML scalar where a list is expected", "one bad builders entry", "VPC, subnet and KMS ids", "per-image platforms",
];

describe("message catalogue (docs/messages.md)", () => {
    for (const c of CATALOGUE) {
        it(`${c.class}: ${c.input}`, async () => {
            const err = await c.run();
            assertMentions(err.message, c.expect);
            for (const part of c.absent ?? []) {
                assert.ok(!err.message.includes(part), `${JSON.stringify(part)} in\n${err.message}`);
            }
            assert.deepEqual((err as unknown as { resources?: unknown[] }).resources ?? [], [], "resources were declared before the error");
            assert.doesNotMatch(err.message, /^\s+at /m, "a stack trace in the message");
        });
    }

    it("has a case for every class of issue 11", () => {
        const classes = new Set(CATALOGUE.map((c) => c.class));
        assert.deepEqual(ISSUE_CLASSES.filter((c) => !classes.has(c)), []);
    });

    it("is what docs/messages.md shows (regenerate: npx ts-node --transpile-only scripts/docs.ts)", async () => {
        assert.equal(fs.readFileSync(path.join(ROOT, "docs", "messages.md"), "utf8"), await renderCatalogue());
    });
});
