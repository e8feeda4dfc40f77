// BuildKit's Dockerfile checks in a real preview (issue 19): with every
// builder unreachable, a Dockerfile with a MAINTAINER line gets
// MaintainerDeprecated at that line in synth and in `pulumi preview`; with
// imagefleet:checks error, the preview exits non-zero naming the image and
// the rule.
import { strict as assert } from "assert";
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import { Project } from "./project";
import { requireEngine, sh } from "./support";

describe("Dockerfile checks in synth and preview, no builder reachable (real engine)", function () {
    this.timeout(20 * 60 * 1000);
    const id = crypto.randomBytes(4).toString("hex");
    let project: Project;
    let line = 0;

    before(() => {
        requireEngine();
        project = new Project({ branch: `e2e-checks-${id}`, namespace: `e2e-checks-${id}` });
        const file = path.join(project.dir, "example", "runtime.Dockerfile");
        const text = fs.readFileSync(file, "utf8").replace(/^(FROM .*)$/m, "$1\nMAINTAINER platform@example.com");
        fs.writeFileSync(file, text);
        line = text.split("\n").findIndex((l) => l.startsWith("MAINTAINER")) + 1;
        project.editStackConfig((config) => {
            // No buildx builder by these names: nothing can be built, nothing needs to be.
            config["imagefleet:builders"] = { "linux/amd64": `nowhere-amd64-${id}`, "linux/arm64": `nowhere-arm64-${id}` };
            delete config["imagefleet:supplychain"];
        }, "a MAINTAINER line; builders nobody runs");
    });
    after(() => project?.remove());

    it("synth names MaintainerDeprecated at the line, under the runtime's builds", () => {
        const r = sh("npm", ["run", "synth", "--", "--stack", "local"], { cwd: project.dir });
        assert.equal(r.code, 0, r.stderr);
        const expected = `check: example/runtime.Dockerfile:${line}: MaintainerDeprecated: Maintainer instruction is deprecated in favor of using label (https://docs.docker.com/go/dockerfile/rule/maintainer-deprecated/)`;
        assert.equal(r.stdout.split("\n").filter((l) => l.trim() === expected).length, 2, r.stdout);
    });

    it("pulumi preview warns with the rule, file, line and link, and succeeds", () => {
        const r = project.pulumi("preview", "--non-interactive");
        assert.equal(r.code, 0, `${r.stdout.slice(-4000)}\n${r.stderr.slice(-4000)}`);
        assert.match(r.stdout, new RegExp(`runtime: example/runtime\\.Dockerfile:${line}: MaintainerDeprecated: .*maintainer-deprecated`));
    });

    it("with imagefleet:checks error, the preview exits non-zero naming the image and the rule", () => {
        project.pulumi("config", "set", "imagefleet:checks", "error");
        const r = project.pulumi("preview", "--non-interactive");
        assert.notEqual(r.code, 0);
        assert.match(`${r.stdout}\n${r.stderr}`, new RegExp(`images\\[2\\] \\("runtime"\\): Dockerfile check example/runtime\\.Dockerfile:${line}: MaintainerDeprecated`));
    });
});
