// The fault tests' stack: a project copy with its own file backend, a fresh
// commit and a runtime step that holds a build open; and the convergence
// check every fault ends with. See ../faults.spec.ts.
import { strict as assert } from "assert";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as YAML from "yaml";
import { localBuilders } from "../hosts";
import { copyProject, incomplete, manifest, mustDetached, registryTags, ROOT, Run, runSha, sh, sleep, start } from "../support";

export const IMAGES = ["dev-env", "artifact", "runtime"];
// A namespace of this file's own: its cache-ref test deletes the cache tags it wrote, and specs
// in the other lane write theirs at the same time (test/e2e/lanes.sh).
export const NAMESPACE = "e2e-faults";
export const REPOS = IMAGES.map((i) => `${NAMESPACE}/${i}`);
export const CACHE_REPOS = REPOS.map((r) => `${r}-cache`);
export const STATE = process.env.IMAGEFLEET_STATE_DIR ?? "/var/lib/imagefleet-e2e";
export const CERTS = path.join(STATE, "buildkit", "certs");
export const REGISTRY_DATA = path.join(STATE, "registry", "data", "docker", "registry", "v2", "repositories");
export const REGISTRY_PID = path.join(STATE, "registry", "registry.pid");
export const RUN_ID = crypto.randomBytes(3).toString("hex");
// Every stack of this file builds this branch and falls back to a branch of
// its own, so it never reads or writes the cache refs other tests use.
const BRANCH = `e2e-faults-${RUN_ID}`;
const FALLBACK = `e2e-faults-${RUN_ID}-main`;
export const SLEEP = 15;
/** The runtime build of arm64 has started (the last image, slowest platform). */
export const RUNTIME_ARM64_BUILDING = /example-runtime-arm64\s+(creating|updating|replacing|creating replacement)\b/;

export const ok = (r: Run, what: string) => {
    assert.equal(r.code, 0, `${what} exited ${r.code}\n--- stdout\n${r.stdout.slice(-6000)}\n--- stderr\n${r.stderr.slice(-6000)}`);
    return r;
};
export const text = (r: Run) => `${r.stdout}\n${r.stderr}`;
export const LOG_DIR = process.env.IMAGEFLEET_LOG_DIR ?? "/tmp/imagefleet-logs";
/** Keeps what a faulted command printed, for the README's troubleshooting and for a failing run (in $IMAGEFLEET_LOG_DIR). */
export function keep(name: string, r: Run): Run {
    fs.mkdirSync(LOG_DIR, { recursive: true });
    fs.writeFileSync(path.join(LOG_DIR, `faults-${name}.log`), `exit ${r.code} after ${r.seconds} s\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}\n`);
    return r;
}
export const registryUp = async () => (await fetch(`${process.env.IMAGEFLEET_REGISTRY_HTTP ?? "https://registry.localhost:5000"}/v2/`).then((r) => r.status, () => 0)) === 200;

/** Brings back whatever a fault left down: both buildkitd hosts (re-registered with buildx) and the registry. */
export async function restoreServices(): Promise<void> {
    if (!(await registryUp())) {
        mustDetached("bash", ["test/e2e/setup.sh"]);
    }
    mustDetached("bash", ["test/e2e/buildkitd.sh", "start"]);
}

export interface StackOptions {
    /** Seconds the runtime step sleeps. */
    readonly sleep?: number;
    /** The FAULT_NONCE build arg; another stack's makes this one's builds its builds (nothing to build). Default: a new one. */
    readonly nonce?: string;
    /** Changes the first dev-env step, so nothing of the family is in any cache. */
    readonly coldNonce?: string;
    /** Builder per platform, instead of the local stack's. */
    readonly builders?: Record<string, string>;
    /** Extra environment for every command. */
    readonly env?: NodeJS.ProcessEnv;
}

/** A project copy with its own file backend, optionally forked from another stack's state. */
export class Stack {
    readonly dir = copyProject("imagefleet-faults-");
    readonly backend = fs.mkdtempSync(path.join(os.tmpdir(), "imagefleet-faults-state-"));
    readonly sha = runSha();
    readonly nonce: string;
    env: NodeJS.ProcessEnv;

    constructor(options: StackOptions = {}, from?: Stack) {
        this.nonce = options.nonce ?? crypto.randomBytes(6).toString("hex");
        if (from) {
            fs.cpSync(from.backend, this.backend, { recursive: true });
        }
        const runtime = path.join(this.dir, "example", "runtime.Dockerfile");
        fs.writeFileSync(runtime, fs.readFileSync(runtime, "utf8").replace(/^ENTRYPOINT/m,
            // The hold is once per nonce and host: a marker in a cache mount (kept by the builder across
            // builds, outside the image and its cache key) lets the rerun after a fault build at once.
            "ARG FAULT_NONCE=none\nARG FAULT_SLEEP=0\n" +
            "RUN --mount=type=cache,id=imagefleet-fault-hold,target=/hold echo \"$FAULT_NONCE\" >/etc/imagefleet-fault" +
            " && if [ ! -e \"/hold/$FAULT_NONCE\" ]; then touch \"/hold/$FAULT_NONCE\" && sleep \"$FAULT_SLEEP\"; fi\nENTRYPOINT"));
        const devEnv = path.join(this.dir, "example", "dev-env.Dockerfile");
        fs.writeFileSync(devEnv, fs.readFileSync(devEnv, "utf8").replace(/^RUN apt-get/m,
            'ARG COLD_NONCE=none\nRUN echo "$COLD_NONCE" >/etc/imagefleet-cold\nRUN apt-get'));
        this.configure(options);
        this.env = {
            PULUMI_BACKEND_URL: `file://${this.backend}`,
            PULUMI_CONFIG_PASSPHRASE: "imagefleet-local",
            GIT_COMMIT: this.sha,
            GIT_BRANCH: BRANCH,
            IMAGEFLEET_SKIP_PROVISION: "1",
            ...options.env,
        };
    }

    configure(options: StackOptions): void {
        const file = path.join(this.dir, "stacks", "Pulumi.local.yaml");
        const doc = YAML.parse(fs.readFileSync(path.join(ROOT, "stacks", "Pulumi.local.yaml"), "utf8"));
        doc.config["imagefleet:buildArgs"] = {
            ...doc.config["imagefleet:buildArgs"],
            FUNCTIONS: "40",
            FAULT_NONCE: this.nonce,
            FAULT_SLEEP: String(options.sleep ?? 0),
            COLD_NONCE: options.coldNonce ?? "none",
        };
        doc.config["imagefleet:fallbackBranches"] = [FALLBACK];
        // The faults are the builders' and the registry's; signing and SBOMs
        // (test/e2e/supplychain.spec.ts) would only add cosign and syft runs to every up.
        delete doc.config["imagefleet:supplychain"];
        doc.config["imagefleet:registry"] = { ...doc.config["imagefleet:registry"], namespace: NAMESPACE };
        // This lane's hosts (test/e2e/hosts.ts), unless the test names others.
        doc.config["imagefleet:builders"] = options.builders ?? localBuilders();
        fs.writeFileSync(file, YAML.stringify(doc));
    }

    pulumi(...args: string[]): Run {
        return sh("bash", ["scripts/up-local.sh", ...args], { cwd: this.dir, env: this.env });
    }

    start(...args: string[]) {
        return start("bash", ["scripts/up-local.sh", ...args], { cwd: this.dir, env: this.env });
    }

    /**
     * Starts `pulumi up` and returns once the arm64 runtime build (the last
     * one) has run for `settleMs`, with the registry's tags at that moment:
     * the point where every fault test strikes.
     */
    async upMidBuild(settleMs: number) {
        const up = this.start("up", "--yes");
        await up.waitFor(RUNTIME_ARM64_BUILDING, 600);
        await sleep(settleMs);
        return { up, before: await registryTags(REPOS) };
    }

    exportState(): any {
        return JSON.parse(ok(this.pulumi("stack", "export"), "pulumi stack export").stdout);
    }

    /** `repo:tag` → digest for every tag the stack's state says it published. */
    published(): Map<string, string> {
        const out = new Map<string, string>();
        for (const r of this.exportState().deployment.resources ?? []) {
            const ref: string | undefined = r.outputs?.ref;
            if ((r.type === "docker-build:index:Index" || r.type === "docker-build:index:Image") && ref && /@sha256:/.test(ref)) {
                const [name, digest] = ref.split("@");
                out.set(name.replace(/^[^/]+\//, ""), digest);
            }
            for (const tag of (r.type === "docker-build:index:Image" ? r.outputs?.tags ?? [] : []) as string[]) {
                if (r.outputs?.digest) {
                    out.set(tag.replace(/^[^/]+\//, ""), r.outputs.digest);
                }
            }
            // The commit's tags (<sha12>, the environment's) live in the family's TagSet: `repo:tag` -> `repo@sha256:…`.
            if (r.type === "pulumi-nodejs:dynamic/images:TagSet") {
                for (const [tag, source] of Object.entries((r.outputs?.tags ?? {}) as Record<string, string>)) {
                    out.set(tag.replace(/^[^/]+\//, ""), source.slice(source.lastIndexOf("@") + 1));
                }
            }
        }
        return out;
    }

    pendingOperations(): unknown[] {
        return this.exportState().deployment.pending_operations ?? [];
    }
}

/**
 * The rerun converges and nothing published is lost: `up` succeeds, `up
 * --expect-no-changes` succeeds, the outputs are what the registry serves,
 * every tag held before the fault resolves to the same digest (or to the one
 * the stack now publishes under it), and no index names a missing manifest.
 */
export async function assertConverged(stack: Stack, before: Map<string, string>): Promise<void> {
    ok(stack.pulumi("up", "--yes"), "the rerun");
    ok(stack.pulumi("up", "--yes", "--expect-no-changes"), "up --expect-no-changes");
    const after = await registryTags(REPOS);
    const published = stack.published();
    const problems: string[] = [];
    for (const [tag, digest] of before) {
        const now = after.get(tag);
        if (now === undefined) {
            problems.push(`${tag} (${digest}) is gone`);
        } else if (now !== digest && published.get(tag) !== now) {
            problems.push(`${tag} moved from ${digest} to ${now}, which the stack does not publish`);
        }
    }
    for (const [tag, digest] of published) {
        if (after.get(tag) !== digest) {
            problems.push(`the stack publishes ${tag}@${digest} but the registry has ${after.get(tag) ?? "nothing"}`);
        }
    }
    for (const tag of new Set([...before.keys(), ...published.keys()])) {
        const [repo, ref] = tag.split(":");
        if (after.has(tag)) {
            problems.push(...await incomplete(repo, ref));
        }
    }
    const refs: Record<string, string> = JSON.parse(ok(stack.pulumi("stack", "output", "refs", "--json"), "stack output").stdout);
    for (const image of IMAGES) {
        const [name, digest] = refs[image].split("@");
        const [repo, tag] = name.replace(/^[^/]+\//, "").split(":");
        assert.equal(tag, stack.sha.slice(0, 12), `${image}'s ref is not this commit's: ${refs[image]}`);
        assert.equal((await manifest(repo, tag)).digest, digest, `${image}: the output ${refs[image]} is not what the registry serves`);
    }
    assert.deepEqual(problems, [], problems.join("\n"));
    assert.ok(before.size > 0, "the snapshot before the fault is empty: the test saw nothing to protect");
}
