import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { checkDocComments, tsFilesUnder } from "./docCheck";

const ROOT = path.resolve(__dirname, "..", "..");
const COMPONENTS = path.join(ROOT, "components");

/** A copy of components/ with one edit applied, checked like the real one. */
function checkEdited(file: string, edit: (source: string) => string): string[] {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "imagefleet-docs-"));
    try {
        fs.cpSync(COMPONENTS, path.join(dir, "components"), { recursive: true });
        const target = path.join(dir, "components", file);
        const before = fs.readFileSync(target, "utf8");
        const after = edit(before);
        assert.notEqual(after, before, `the edit of ${file} changed nothing`);
        fs.writeFileSync(target, after);
        return checkDocComments(tsFilesUnder(path.join(dir, "components")), dir);
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

/** Removes the one-line doc comment right above a field. */
const dropDocAbove = (field: string) => (source: string) =>
    source.replace(new RegExp(`\\n[ \\t]*/\\*\\*[^\\n]*\\*/(\\n[ \\t]*readonly ${field}\\??:)`), "$1");

describe("API docs", () => {
    it("every exported component, its outputs, and every Args field (and the specs they use) has a doc comment with its default or \"Required\"", () => {
        const problems = checkDocComments(tsFilesUnder(COMPONENTS), ROOT);
        assert.deepEqual(problems, [], `doc comments missing or incomplete:\n${problems.join("\n")}`);
    });

    it("fails when the doc comment of an exported Args field is removed", () => {
        const problems = checkEdited(path.join("registry", "types.ts"), dropDocAbove("scanOnPush"));
        assert.equal(problems.length, 1, problems.join("\n"));
        assert.match(problems[0], /^components\/registry\/types\.ts:\d+: EcrRegistryArgs\.scanOnPush has no doc comment/);
    });

    it("fails when a field of a spec an Args interface uses loses its doc comment (ImageSpec via ImageFamilyArgs.images)", () => {
        const problems = checkEdited(path.join("images", "types.ts"), dropDocAbove("dockerfile"));
        assert.deepEqual(problems.map((p) => p.replace(/:\d+:/, ":N:")), ["components/images/types.ts:N: ImageSpec.dockerfile has no doc comment (say what it is and its default, or \"Required\")"]);
    });

    it("fails when an optional field's comment states no default, or a mandatory one's does not say Required", () => {
        const noDefault = checkEdited(path.join("builders", "types.ts"), (s) => s.replace("TCP port buildkitd listens on. Default: `1234`.", "TCP port buildkitd listens on."));
        assert.match(noDefault.join("\n"), /BuilderFleetArgs\.port is optional but its doc comment states no default/);
        const notRequired = checkEdited(path.join("builders", "types.ts"), (s) => s.replace("VPC the hosts run in. Required.", "VPC the hosts run in."));
        assert.match(notRequired.join("\n"), /BuilderFleetArgs\.vpcId is mandatory but its doc comment does not say "Required"/);
    });

    it("fails when a component's class or output loses its doc comment", () => {
        const problems = checkEdited(path.join("delivery", "githubDelivery.ts"), (s) =>
            s.replace(/\n[ \t]*\/\*\* ARN of GitHub's OIDC provider[^\n]*\*\//, ""));
        assert.match(problems.join("\n"), /GithubDelivery\.oidcProviderArn \(a public field\) has no doc comment/);
    });
});
