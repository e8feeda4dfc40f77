import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { errorText, UsageError } from "../../scripts/harness/cli";
import { ROOT } from "../../scripts/harness/stackFile";
import { SHA } from "./helpers";

/** Runs `npm run synth` the way a user does (same entry point, own process). */
function synth(...args: string[]) {
    const r = spawnSync(process.execPath, ["-r", "ts-node/register/transpile-only", "scripts/synth.ts",
        "--config", `imagefleet:gitSha=${SHA}`, "--config", "imagefleet:gitBranch=main", ...args], { cwd: ROOT, encoding: "utf8" });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe("npm run synth", () => {
    it("--json prints every resource with type, name, parent and inputs", () => {
        const r = synth("--stack", "local", "--json");
        assert.equal(r.code, 0, r.stderr);
        const resources = JSON.parse(r.stdout);
        const images = resources.filter((x: any) => x.type === "docker-build:index:Image");
        assert.equal(images.length, 6);
        assert.ok(images.every((x: any) => x.parent === "example" && x.inputs.platforms.length === 1));
        assert.deepEqual(Object.keys(images[0]).sort(), ["inputs", "name", "parent", "type"]);
        // A component adds what it registered as outputs (the family's context reports).
        const family = resources.find((x: any) => x.type === "imagefleet:images:ImageFamily");
        assert.deepEqual(Object.keys(family).sort(), ["inputs", "name", "outputs", "parent", "type"]);
    });

    it("masks secrets as [secret]", () => {
        const r = synth("--stack", "local", "--json", "--config", "imagefleet:registry={\"address\":\"registry.localhost:5000\",\"username\":\"u\"}");
        assert.equal(r.code, 0, r.stderr);
        assert.ok(!r.stdout.includes("4dabf18193072939515e22adb298388d"));
    });

    it("--graph prints the image graph as Mermaid", () => {
        const r = synth("--stack", "local", "--graph");
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stdout, /^flowchart LR/);
        assert.match(r.stdout, /dev_env -->\|dev-env\| artifact/);
        assert.match(r.stdout, /artifact -->\|artifact\| runtime/);
    });

    it("exits non-zero on bad config with the message and no output", () => {
        const r = synth("--stack", "local", "--config", "imagefleet:platforms=[\"linux/arm65\"]");
        assert.notEqual(r.code, 0);
        assert.equal(r.stdout, "");
        assert.match(r.stderr, /imagefleet:platforms\[0\]: "linux\/arm65" is not a supported platform/);
        assert.match(r.stderr, /stack "local"/);
    });

    it("names the known stacks when the stack does not exist, without a stack trace", () => {
        const r = synth("--stack", "qa");
        assert.equal(r.code, 1);
        assert.equal(r.stderr, 'synth: no stack "qa": stacks/Pulumi.qa.yaml does not exist; stacks: dev, local, prod, staging\n');
    });

    it("refuses a typo'd key naming it and the key meant, without a stack trace (issue 11's acceptance)", () => {
        const r = synth("--stack", "local", "--config", 'imagefleet:platfroms=["linux/amd64"]');
        assert.equal(r.code, 1);
        assert.equal(r.stdout, "");
        assert.match(r.stderr, /^synth: stack config \(stack "local"\) is invalid:\n {2}- imagefleet:platfroms: unknown key; did you mean imagefleet:platforms\?/);
        assert.doesNotMatch(r.stderr, /^\s+at /m);
    });

    it("names the file, line and column of a YAML syntax error, without a stack trace", () => {
        const name = `zz-broken-${process.pid}`;
        const file = path.join(ROOT, "stacks", `Pulumi.${name}.yaml`);
        fs.writeFileSync(file, "config:\n  imagefleet:registry:\n    address: [registry.localhost:5000\n  imagefleet:push: true\n");
        try {
            const r = synth("--stack", name);
            assert.equal(r.code, 1);
            assert.match(r.stderr, new RegExp(`^synth: invalid YAML:\\n {2}- stacks/Pulumi\\.${name}\\.yaml:\\d+:\\d+: `));
            assert.doesNotMatch(r.stderr, /^\s+at /m);
        } finally {
            fs.rmSync(file, { force: true });
        }
    });

    it("prints an internal error as one line unless IMAGEFLEET_DEBUG=1", () => {
        const err = new TypeError("x is not a function");
        assert.equal(errorText(err, {}), "internal error: TypeError: x is not a function (IMAGEFLEET_DEBUG=1 prints the stack trace)");
        assert.match(errorText(err, { IMAGEFLEET_DEBUG: "1" }), /^TypeError: x is not a function\n\s+at /);
        assert.equal(errorText(new UsageError("no stack"), {}), "no stack");
    });
});
