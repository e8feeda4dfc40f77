// A throwaway git checkout of the project driven through the README's main-job
// command (scripts/up-local.sh) with the real Pulumi engine: what the e2e
// tests of builds across commits and `bench/commits.ts` run.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as YAML from "yaml";
import { hostClientArgs } from "./hosts";
import { linkNodeModules, must, parseProgress, ROOT, Run, Running, sh, start, Step } from "./support";

export interface ProjectOptions {
    /** Branch recorded in the commits and used for cache refs. Required. */
    readonly branch: string;
    /** Registry namespace, so a run starts with empty repositories and caches. Default: `imagefleet`. */
    readonly namespace?: string;
    /** File modes the checkout is written with (a CI runner's umask). Default: 0o022. */
    readonly umask?: number;
    /** Pulumi state directory; share it to run another checkout against the same stack. Default: a new one. */
    readonly stateDir?: string;
    /** Copy from this checkout instead of the repository's files. */
    readonly from?: string;
}

/** One resource step of an update, with the BuildKit progress its provider reported. */
export interface ResourceStep {
    readonly urn: string;
    readonly name: string;
    readonly type: string;
    readonly op: string;
    /** BuildKit's plain-progress vertices for this resource's build (empty if it did not build). */
    readonly steps: readonly Step[];
}

export interface UpResult extends Run {
    readonly resources: readonly ResourceStep[];
}

/** The local builder hosts (test/e2e/buildkitd.sh) by arch. */
export const BUILDER_PORTS: Readonly<Record<string, number>> = { amd64: 1234, arm64: 1235 };

/** buildctl from scripts/build-tools.sh: the e2e tier has it on PATH, a bench run from a plain shell may not. */
const BUILDCTL = [path.join(process.env.IMAGEFLEET_TOOLS_DIR ?? path.join(os.homedir(), ".cache", "imagefleet", "tools"), "bin", "buildctl")]
    .find((f) => fs.existsSync(f)) ?? "buildctl";

/** Empties both builder hosts' caches: what a fresh CI runner starts with. */
export function wipeBuilders(): void {
    for (const port of Object.values(BUILDER_PORTS)) {
        must(BUILDCTL, [...hostClientArgs(port), "prune", "--all"]);
    }
}

const gitEnv = { GIT_AUTHOR_NAME: "e2e", GIT_AUTHOR_EMAIL: "e2e@imagefleet.test", GIT_COMMITTER_NAME: "e2e", GIT_COMMITTER_EMAIL: "e2e@imagefleet.test" };

function walkDirs(root: string): string[] {
    return fs.readdirSync(root, { withFileTypes: true, recursive: true })
        .filter((e) => e.isDirectory())
        .map((e) => path.join(e.parentPath, e.name));
}

function projectFiles(from: string): string[] {
    const listed = from === ROOT
        ? must("git", ["ls-files", "-co", "--exclude-standard"], { cwd: ROOT }).stdout
        : must("git", ["ls-files"], { cwd: from }).stdout;
    return listed.split("\n").filter((f) => f && !f.startsWith("node_modules/") && fs.lstatSync(path.join(from, f), { throwIfNoEntry: false }));
}

export class Project {
    readonly dir: string;
    readonly stateDir: string;
    private readonly env: NodeJS.ProcessEnv;

    constructor(readonly options: ProjectOptions) {
        this.dir = fs.mkdtempSync(path.join(os.tmpdir(), "imagefleet-checkout-"));
        this.stateDir = options.stateDir ?? fs.mkdtempSync(path.join(os.tmpdir(), "imagefleet-state-"));
        const umask = options.umask ?? 0o022;
        const from = options.from ?? ROOT;
        // Written the way git checks out under that umask: 0666/0777 minus umask.
        for (const f of projectFiles(from)) {
            const src = path.join(from, f);
            const dst = path.join(this.dir, f);
            for (let d = path.dirname(dst); d !== this.dir && !fs.existsSync(d); d = path.dirname(d)) {
                fs.mkdirSync(d, { recursive: true });
            }
            if (fs.lstatSync(src).isSymbolicLink()) {
                fs.symlinkSync(fs.readlinkSync(src), dst);
                continue;
            }
            fs.writeFileSync(dst, fs.readFileSync(src));
            fs.chmodSync(dst, ((fs.statSync(src).mode & 0o111) !== 0 ? 0o777 : 0o666) & ~umask);
        }
        for (const d of walkDirs(this.dir)) {
            fs.chmodSync(d, 0o777 & ~umask);
        }
        linkNodeModules(this.dir);
        this.env = {
            PULUMI_BACKEND_URL: `file://${this.stateDir}`,
            PULUMI_CONFIG_PASSPHRASE: "imagefleet-local",
            IMAGEFLEET_SKIP_PROVISION: "1",
            // `--event-log` (each resource's ops and its provider's progress
            // lines, as the Automation API reads them) is behind this switch.
            PULUMI_DEBUG_COMMANDS: "true",
            GIT_BRANCH: options.branch,
            // The program resolves the commit from git; CI variables must not override it.
            GIT_COMMIT: "", GITHUB_SHA: "", GITHUB_REF_NAME: "",
            ...gitEnv,
        };
        must("git", ["init", "-q", "-b", options.branch], { cwd: this.dir });
        this.commit("import");
        if (options.namespace) {
            this.config("registry.namespace", options.namespace);
        }
    }

    /** The checkout's HEAD. */
    get sha(): string {
        return must("git", ["rev-parse", "HEAD"], { cwd: this.dir }).stdout.trim();
    }

    /** Commits everything (a new SHA even when nothing changed). */
    commit(message: string): string {
        must("git", ["add", "-A"], { cwd: this.dir, env: gitEnv });
        must("git", ["commit", "-q", "--allow-empty", "-m", message], { cwd: this.dir, env: gitEnv });
        return this.sha;
    }

    /** Edits a file of the checkout and commits it. */
    change(file: string, edit: (text: string) => string, message = `change ${file}`): string {
        const p = path.join(this.dir, file);
        const before = fs.readFileSync(p, "utf8");
        const after = edit(before);
        if (after === before) {
            throw new Error(`the edit of ${file} changed nothing`);
        }
        fs.writeFileSync(p, after);
        return this.commit(message);
    }

    /** `pulumi config set` on the local stack (stack file in the checkout, not committed). */
    config(key: string, value: string): void {
        this.ensureStack();
        must("bash", ["scripts/up-local.sh", "config", "set", "--path", `imagefleet:${key}`, value], { cwd: this.dir, env: this.env });
    }

    /** Any pulumi command on the local stack, through the main-job script; `env` adds to the checkout's environment. */
    pulumi(...args: string[]): Run {
        return this.pulumiWith({}, ...args);
    }

    pulumiWith(env: NodeJS.ProcessEnv, ...args: string[]): Run {
        this.ensureStack();
        return sh("bash", ["scripts/up-local.sh", ...args], { cwd: this.dir, env: { ...this.env, ...env } });
    }

    /** Any pulumi command on the local stack, started without waiting (a test strikes while it runs). */
    start(...args: string[]): Running {
        this.ensureStack();
        return start("bash", ["scripts/up-local.sh", ...args], { cwd: this.dir, env: this.env });
    }

    /** `pulumi <args>` on another stack of this checkout and backend (a promoting one), the program run transpile-only as up-local.sh runs it. */
    pulumiOn(stack: string, ...args: string[]): Run {
        this.ensureStack();
        return sh("pulumi", [...args, "--stack", stack, "--non-interactive"], { cwd: this.dir, env: { ...this.env, PULUMI_NODEJS_TRANSPILE_ONLY: "true" } });
    }

    /** `pulumi up` (or `preview`) with an event log: each resource's op and BuildKit progress. */
    run(command: "up" | "preview", ...flags: string[]): UpResult {
        return this.runWith({}, command, ...flags);
    }

    /** `run` with more environment, e.g. another branch as CI would give it (`GIT_BRANCH`). */
    runWith(env: NodeJS.ProcessEnv, command: "up" | "preview", ...flags: string[]): UpResult {
        const log = path.join(this.stateDir, `events-${Date.now()}.jsonl`);
        const r = this.pulumiWith(env, command, ...(command === "up" ? ["--yes"] : []), "--event-log", log, ...flags);
        return { ...r, resources: fs.existsSync(log) ? readEvents(fs.readFileSync(log, "utf8")) : [] };
    }

    /** Edits the checkout's committed stack file (stacks/Pulumi.local.yaml) and commits it. */
    editStackConfig(edit: (config: Record<string, unknown>) => void, message = "stack config"): string {
        const file = path.join(this.dir, "stacks", "Pulumi.local.yaml");
        const doc = YAML.parse(fs.readFileSync(file, "utf8"));
        edit(doc.config);
        fs.writeFileSync(file, YAML.stringify(doc));
        return this.commit(message);
    }

    /** The stack's outputs. */
    outputs(): Record<string, any> {
        return JSON.parse(must("bash", ["scripts/up-local.sh", "stack", "output", "--json", "--show-secrets"], { cwd: this.dir, env: this.env }).stdout);
    }

    remove(): void {
        fs.rmSync(this.dir, { recursive: true, force: true });
    }

    private stackReady = false;

    private ensureStack(): void {
        if (!this.stackReady) {
            must("bash", ["scripts/up-local.sh", "stack", "ls"], { cwd: this.dir, env: this.env });
            this.stackReady = true;
        }
    }
}

/** Resource steps of an engine event log (`--event-log`), with each resource's progress lines. */
export function readEvents(log: string): ResourceStep[] {
    const ops = new Map<string, { type: string; op: string }>();
    const progress = new Map<string, string[]>();
    for (const line of log.split("\n")) {
        if (!line.trim()) {
            continue;
        }
        const e = JSON.parse(line);
        const meta = e.resourcePreEvent?.metadata;
        if (meta && !meta.urn.includes("pulumi:pulumi:Stack")) {
            ops.set(meta.urn, { type: meta.type, op: meta.op });
        }
        const d = e.diagnosticEvent;
        if (d?.urn && typeof d.message === "string") {
            progress.set(d.urn, [...(progress.get(d.urn) ?? []), ...d.message.split("\n")]);
        }
    }
    return [...ops].map(([urn, { type, op }]) => ({
        urn, type, op, name: urn.split("::").pop()!, steps: parseProgress((progress.get(urn) ?? []).join("\n")),
    }));
}

/** The per-platform Image resources an update changed (created, updated or replaced). */
export function changedImages(resources: readonly ResourceStep[]): string[] {
    return resources.filter((r) => r.type === "docker-build:index:Image" && r.op !== "same" && r.op !== "read").map((r) => r.name).sort();
}
