// The workflows' own steps, executed: every `run:` step of
// .github/workflows/*.yml, and each pulumi/actions step as the equivalent
// `pulumi` command against the local stack (same command, flags and
// config-map), on a fresh clone of the committed HEAD, with the workflow's env.
// A missing npm script, a wrong flag or a wrong path fails here, not on the
// first pull request. Steps that need a cloud credential (AWS role, GitHub
// token) are the only ones left out, and each is named as such.
import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as YAML from "yaml";
import { must, ROOT, Run, runSha, sh, smallerCompile } from "./support";

const WORKFLOWS = path.join(ROOT, ".github", "workflows");

/** One step as the test runs it. */
interface Planned {
    /** `preview.yml › preview (stack=dev) › npm run synth -- --stack "dev"` */
    readonly label: string;
    /** bash script, or undefined for a step with nothing to run here. */
    readonly script?: string;
    readonly env: Record<string, string>;
    /** Why a step is not run. */
    readonly skipped?: string;
}

interface PlannedJob {
    readonly label: string;
    readonly event: string;
    readonly steps: readonly Planned[];
}

const EXPRESSION = /\$\{\{\s*([^}]*?)\s*\}\}/g;

/** What `${{ steps.<id>.outputs.output }}` becomes until the step with that id has run (runStep reads its saved stdout). */
const stepOutput = (id: string) => `@@step-output:${id}@@`;

/**
 * Replaces `${{ matrix.x }}` and `${{ steps.<id>.outputs.output }}` (a
 * pulumi/actions step's stdout); any other expression in a command is an
 * error, so a new one cannot slip past.
 */
function substitute(value: string, matrix: Record<string, string>, where: string): string {
    return value.replace(EXPRESSION, (_, expr: string) => {
        const out = /^steps\.([\w-]+)\.outputs\.output$/.exec(expr);
        if (out) {
            return stepOutput(out[1]);
        }
        const m = /^matrix\.([\w-]+)$/.exec(expr);
        if (!m || !(m[1] in matrix)) {
            throw new Error(`${where}: cannot evaluate \${{ ${expr} }} here; teach test/e2e/workflow-steps.spec.ts what it means`);
        }
        return matrix[m[1]];
    });
}

/** Env entries that hold no credential (a `secrets.*`/`vars.*` value is a credential or a cloud setting). */
function plainEnv(env: Record<string, unknown> | undefined, matrix: Record<string, string>, where: string): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(env ?? {})) {
        if (typeof v === "string" && /\$\{\{\s*(secrets|vars)\./.test(v)) {
            continue;
        }
        out[k] = substitute(String(v), matrix, `${where} env ${k}`);
    }
    return out;
}

function combinations(matrix: Record<string, unknown> | undefined, where: string): Record<string, string>[] {
    if (!matrix) {
        return [{}];
    }
    let combos: Record<string, string>[] = [{}];
    for (const [key, values] of Object.entries(matrix)) {
        if (!Array.isArray(values)) {
            throw new Error(`${where}: matrix key ${key} is not a list (include/exclude are not supported by this test)`);
        }
        combos = combos.flatMap((c) => values.map((v) => ({ ...c, [key]: String(v) })));
    }
    return combos;
}

const PULUMI_INPUTS = new Set(["command", "stack-name", "cloud-url", "pulumi-version", "comment-on-pr", "github-token", "diff", "config-map"]);

/** A pulumi/actions step as the CLI commands it runs, pointed at the local stack. */
function pulumiCommand(step: any, where: string): string {
    const w = step.with ?? {};
    const unknown = Object.keys(w).filter((k) => !PULUMI_INPUTS.has(k));
    if (unknown.length > 0) {
        throw new Error(`${where}: pulumi/actions inputs ${unknown.join(", ")} have no CLI equivalent in this test yet`);
    }
    const lines: string[] = [];
    // The action applies config-map with `pulumi config set` before the command.
    const configMap = w["config-map"] ? YAML.parse(String(w["config-map"])) as Record<string, { value: string; secret?: boolean }> : {};
    for (const [key, { value, secret }] of Object.entries(configMap)) {
        lines.push(`pulumi config set --stack local ${secret ? "--secret" : "--plaintext"} ${key} '${value}'`);
    }
    // The action's `output` (what later steps read as steps.<id>.outputs.output): its stdout, saved.
    const saved = step.id ? ` | tee "$IMAGEFLEET_STEP_OUTPUTS/${step.id}"` : "";
    switch (w.command) {
        case "preview":
            lines.push(`pulumi preview --stack local --non-interactive${w.diff ? " --diff" : ""}${saved}`);
            break;
        case "up":
            // The action runs `up` through the automation API: --yes --skip-preview.
            lines.push(`pulumi up --stack local --non-interactive --yes --skip-preview${w.diff ? " --diff" : ""}`);
            break;
        default:
            throw new Error(`${where}: pulumi/actions command ${JSON.stringify(w.command)} has no equivalent in this test yet`);
    }
    return lines.join("\n");
}

function stepName(step: any): string {
    return step.name ?? step.run?.split("\n")[0] ?? step.uses;
}

/** Every job of every workflow, each matrix leg on its own, as the steps this test runs. */
export function planWorkflows(dir = WORKFLOWS): PlannedJob[] {
    const jobs: PlannedJob[] = [];
    for (const file of fs.readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).sort()) {
        const wf = YAML.parse(fs.readFileSync(path.join(dir, file), "utf8"));
        const event = Object.keys(wf.on)[0];
        for (const [id, job] of Object.entries<any>(wf.jobs)) {
            for (const matrix of combinations(job.strategy?.matrix, `${file} › ${id}`)) {
                const leg = Object.keys(matrix).length ? ` (${Object.entries(matrix).map(([k, v]) => `${k}=${v}`).join(", ")})` : "";
                const jobLabel = `${file} › ${id}${leg}`;
                const steps: Planned[] = (job.steps as any[]).map((step) => {
                    const where = `${jobLabel} › ${stepName(step)}`;
                    const env = { ...plainEnv(wf.env, matrix, where), ...plainEnv(job.env, matrix, where), ...plainEnv(step.env, matrix, where) };
                    const uses: string = step.uses ?? "";
                    if (step.run !== undefined) {
                        const script = substitute(step.run, matrix, where);
                        return { label: `${jobLabel} › ${script.split("\n")[0]}`, script, env };
                    }
                    if (uses.startsWith("actions/checkout@")) {
                        return { label: where, env, skipped: "the fresh clone is the checkout" };
                    }
                    if (uses.startsWith("actions/setup-node@")) {
                        const want = String(step.with?.["node-version"]);
                        return { label: where, env, script: `node --version | grep -q '^v${want}\\.' || { echo "node $(node --version) is not ${want}" >&2; exit 1; }` };
                    }
                    if (uses.startsWith("actions/setup-go@")) {
                        // The Go the module asks for, or newer (go's own toolchain rule).
                        const mod = String(step.with?.["go-version-file"]);
                        return { label: where, env, script: `want=$(sed -n 's/^go //p' ${mod}); have=$(go env GOVERSION | sed 's/^go//'); [ "$(printf '%s\\n' "$want" "$have" | sort -V | head -1)" = "$want" ] || { echo "go $have is older than $want (${mod})" >&2; exit 1; }` };
                    }
                    if (uses.startsWith("aws-actions/configure-aws-credentials@")) {
                        return { label: where, env, skipped: "needs cloud credentials (an AWS role)" };
                    }
                    if (uses.startsWith("actions/github-script@")) {
                        return { label: where, env, skipped: "needs a GitHub token (posts the pull request comment)" };
                    }
                    if (uses.startsWith("pulumi/actions@")) {
                        return { label: `${where} [${step.with?.command} as pulumi on the local stack]`, env, script: pulumiCommand(step, where) };
                    }
                    throw new Error(`${where}: no local equivalent for ${uses}; teach test/e2e/workflow-steps.spec.ts`);
                });
                jobs.push({ label: jobLabel, event, steps });
            }
        }
    }
    return jobs;
}

const PURE_STEPS = ["npm ci", "npx tsc --noEmit -p .", "npm run test:unit"];

/** A job's identity for running it once: its steps' scripts and env. */
const jobKey = (j: PlannedJob) => JSON.stringify([j.event, j.steps.map((s) => [s.script, s.env])]);

describe("the workflows' own steps, run on a fresh clone", function () {
    this.timeout(40 * 60 * 1000);
    // The committed HEAD (uncommitted edits are not in a clone); IMAGEFLEET_WORKFLOW_REF runs another commit's workflows.
    const head = must("git", ["rev-parse", process.env.IMAGEFLEET_WORKFLOW_REF ?? "HEAD"]).stdout.trim();
    const work = fs.mkdtempSync(path.join(os.tmpdir(), "imagefleet-workflows-"));
    const clone = path.join(work, "clone");
    const backend = path.join(work, "state");
    const outputs = path.join(work, "step-outputs");
    // The commit GitHub names (GITHUB_SHA); a test that commits moves it on, as a new push or PR head does.
    let sha = runSha();
    const branch = `e2e-workflows-${sha.slice(0, 8)}`;
    const passed = new Set<string>();
    const ran: string[] = [];

    /** What GitHub sets for the event, for a commit nobody built before. */
    const githubEnv = (event: string): Record<string, string> => ({
        CI: "true",
        GITHUB_ACTIONS: "true",
        GITHUB_EVENT_NAME: event,
        GITHUB_SHA: sha,
        ...(event === "pull_request" ? { GITHUB_HEAD_REF: branch, GITHUB_REF_NAME: "1/merge" } : { GITHUB_REF_NAME: branch }),
        // The cloud-url stand-in: a file backend; local stack secrets use its passphrase.
        PULUMI_BACKEND_URL: `file://${backend}`,
        PULUMI_CONFIG_PASSPHRASE: "imagefleet-local",
        // Steps append directories to it for the later steps; here they are on PATH already.
        GITHUB_PATH: path.join(work, "github-path"),
    });

    function runStep(step: Planned, event: string): Run | undefined {
        if (!step.script) {
            return undefined;
        }
        // The clone's own test runs must not add to this run's totals or time table (scripts/test-all.sh reads
        // IMAGEFLEET_RESULTS and IMAGEFLEET_TIMES). The unit step loads and registers every test without running
        // them (.mocharc.js): the unit tier of the same commit ran them all; here the step's wiring is tested.
        const isolated = { IMAGEFLEET_RESULTS: "", IMAGEFLEET_TIMES: "", IMAGEFLEET_TIER: "", IMAGEFLEET_LANE: "", IMAGEFLEET_UNIT_DRY_RUN: "1" };
        // A step's env that names an earlier step's output gets what that step printed.
        const env = Object.fromEntries(Object.entries(step.env).map(([k, v]) => {
            const id = /^@@step-output:([\w-]+)@@$/.exec(v)?.[1];
            return [k, id ? fs.readFileSync(path.join(outputs, id), "utf8") : v];
        }));
        return sh("bash", ["--noprofile", "--norc", "-eo", "pipefail", "-c", step.script], { cwd: clone, env: { ...isolated, ...githubEnv(event), IMAGEFLEET_STEP_OUTPUTS: outputs, ...env } });
    }

    /** Runs a job's steps in order; throws naming the workflow, job and step that failed. */
    function runJob(job: PlannedJob): void {
        // Each job starts from the checkout: no file left by an earlier job.
        must("git", ["checkout", "--", "."], { cwd: clone });
        must("git", ["clean", "-ffdxq", "-e", "node_modules"], { cwd: clone });
        for (const step of job.steps) {
            if (step.skipped) {
                ran.push(`skipped ${step.label}: ${step.skipped}`);
                continue;
            }
            // Steps that read only the checkout (the same in every job) give the
            // same result every time: `npm ci` of the same lockfile, the type-check
            // and the unit tests run once per clone.
            if (step.script !== undefined && PURE_STEPS.includes(step.script) && passed.has(step.script)) {
                ran.push(`same as before ${step.label}`);
                continue;
            }
            const r = runStep(step, job.event)!;
            if (r.code !== 0) {
                throw new Error(`${step.label} exited ${r.code}\n--- stdout\n${r.stdout.slice(-4000)}\n--- stderr\n${r.stderr.slice(-4000)}`);
            }
            passed.add(step.script!);
            ran.push(`ran ${step.label} (${r.seconds.toFixed(1)} s)`);
        }
    }

    before(() => {
        must("git", ["clone", "-q", "--no-hardlinks", ROOT, clone]);
        must("git", ["checkout", "-q", "--detach", head], { cwd: clone });
        // The smaller compile of the e2e tier, committed so each job's checkout keeps it; the steps are what is tested.
        smallerCompile(clone);
        // The deploy jobs here run on this test's branch (main, in a real
        // repository): it is the branch a pull request's preview compares with.
        const stackFile = path.join(clone, "stacks", "Pulumi.local.yaml");
        const doc = YAML.parse(fs.readFileSync(stackFile, "utf8"));
        doc.config["imagefleet:deployBranch"] = branch;
        fs.writeFileSync(stackFile, YAML.stringify(doc));
        must("git", ["-c", "user.name=e2e", "-c", "user.email=e2e@imagefleet.test", "commit", "-qam", "e2e: smaller compile, deploy branch"], { cwd: clone });
        fs.mkdirSync(backend, { recursive: true });
        fs.mkdirSync(outputs, { recursive: true });
        // What the cloud backend already has: the stack. (IMAGEFLEET_SKIP_PROVISION: the e2e tier started the builders.)
        must("pulumi", ["stack", "init", "local", "--secrets-provider", "passphrase", "--non-interactive"], { cwd: clone, env: githubEnv("push") });
    });

    after(() => {
        process.stdout.write(ran.map((l) => `      ${l}\n`).join(""));
        fs.rmSync(work, { recursive: true, force: true });
    });

    it("plans every step: run steps, checkout, setup-node, pulumi/actions; only credential steps are left out", () => {
        const jobs = planWorkflows();
        const files = fs.readdirSync(WORKFLOWS).filter((f) => /\.ya?ml$/.test(f));
        assert.ok(files.length >= 2 && jobs.length >= 6, `${files.length} workflows, ${jobs.length} jobs`);
        const steps = jobs.flatMap((j) => j.steps);
        assert.ok(steps.some((s) => s.script === "npm run test:unit"), "no job runs the unit tests");
        assert.ok(steps.some((s) => s.script?.startsWith("npm run synth -- --stack \"prod\"")));
        assert.ok(steps.some((s) => /pulumi preview --stack local --non-interactive --diff/.test(s.script ?? "")));
        assert.ok(steps.some((s) => /pulumi config set --stack local --plaintext imagefleet:cacheWrite 'false'/.test(s.script ?? "")));
        assert.ok(steps.some((s) => /pulumi up --stack local .*--yes --skip-preview/.test(s.script ?? "")));
        assert.ok(steps.some((s) => s.script?.startsWith("bash scripts/build-tools.sh --supplychain")), "no deploy job builds cosign and syft");
        assert.deepEqual([...new Set(steps.filter((s) => s.skipped).map((s) => s.skipped))].sort(),
            ["needs a GitHub token (posts the pull request comment)", "needs cloud credentials (an AWS role)", "the fresh clone is the checkout"]);
        assert.ok(steps.some((s) => /pulumi preview .* \| tee "\$IMAGEFLEET_STEP_OUTPUTS\/preview"/.test(s.script ?? "")), "the preview's output is saved for the review step");
    });

    it("runs each distinct job's steps and every one exits 0", () => {
        const seen = new Set<string>();
        for (const job of planWorkflows(path.join(clone, ".github", "workflows"))) {
            const key = jobKey(job);
            if (seen.has(key)) {
                ran.push(`same steps as an earlier job: ${job.label}`);
                continue;
            }
            seen.add(key);
            runJob(job);
        }
        assert.ok(ran.some((l) => l.startsWith("ran ") && l.includes("npm run test:unit")));
    });

    it("renders the review comment from a real preview after a runtime-only commit: the table leads, the raw diff follows", () => {
        const job = planWorkflows(path.join(clone, ".github", "workflows")).find((j) => j.label === "preview.yml › preview (stack=dev)")!;
        const file = path.join(clone, "example", "runtime.Dockerfile");
        fs.appendFileSync(file, "# a runtime-only change\nENV IMAGEFLEET_REVIEWED=1\n");
        must("git", ["-c", "user.name=e2e", "-c", "user.email=e2e@imagefleet.test", "commit", "-qam", "runtime only"], { cwd: clone });
        sha = must("git", ["rev-parse", "HEAD"], { cwd: clone }).stdout.trim();
        runJob(job);
        const comment = fs.readFileSync(path.join(clone, "comment-dev.md"), "utf8");
        ran.push(`review comment (${comment.length} characters):\n${comment.split("\n").slice(0, 12).map((l) => `        ${l}`).join("\n")}`);
        const lines = comment.split("\n");
        assert.equal(lines[0], "<!-- imagefleet-review: dev -->");
        assert.match(lines[1], /^#### `preview` on dev: 1 rebuild, 2 new tags only, 0 unchanged$/);
        assert.ok(lines.includes("| `runtime` | linux/amd64, linux/arm64 | **rebuild** | example/runtime.Dockerfile changed |"), comment);
        for (const image of ["dev-env", "artifact"]) {
            assert.ok(lines.includes(`| \`${image}\` | linux/amd64, linux/arm64 | new tags only |  |`), `${image}\n${comment}`);
        }
        assert.ok(comment.indexOf("<summary>pulumi preview --diff</summary>") > comment.indexOf("**rebuild**"), "the raw diff follows the table");
        assert.match(comment, /example-runtime-amd64/, "the raw diff is the preview's");
    });

    it("would fail on a step whose npm script is missing (the test:unit that once was)", () => {
        const job = planWorkflows(path.join(clone, ".github", "workflows")).find((j) => j.label === "preview.yml › check")!;
        const pkgFile = path.join(clone, "package.json");
        const pkg = JSON.parse(fs.readFileSync(pkgFile, "utf8"));
        delete pkg.scripts["test:unit"];
        fs.writeFileSync(pkgFile, JSON.stringify(pkg, null, 2));
        const step = job.steps.find((s) => s.script === "npm run test:unit")!;
        const r = runStep(step, job.event)!;
        must("git", ["checkout", "--", "package.json"], { cwd: clone });
        assert.notEqual(r.code, 0);
        assert.match(r.stderr, /Missing script: "test:unit"/);
    });
});
