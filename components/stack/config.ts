import * as pulumi from "@pulumi/pulumi";
import { listOf, Problems } from "../errors";
import { resolveGit, ResolvedGit } from "../images/git";
import { DEFAULT_PLATFORMS, isPlatform, Platform, SUPPORTED_PLATFORMS } from "../images/platforms";
import { SEMVER, SHA } from "../images/policy";
import { ImageSpec } from "../images/types";

/** The environments imagefleet ships stacks for. */
export const ENVIRONMENTS = ["local", "dev", "staging", "prod"] as const;

/** The project's stack config, read and checked once at startup. */
export interface StackConfig {
    readonly stack: string;
    readonly registry: {
        readonly address: string;
        readonly namespace?: string;
        readonly username?: string;
        /** From the secret key `imagefleet:registryPassword`. */
        readonly password?: pulumi.Output<string>;
    };
    readonly platforms: Platform[];
    readonly builders: Partial<Record<Platform, string>>;
    readonly git: ResolvedGit;
    readonly fallbackBranches: string[];
    readonly cacheWrite: boolean;
    readonly variants: Record<string, Record<string, string>>;
    readonly buildArgs: Record<string, string>;
    /** Replaces the program's default family when set. */
    readonly images?: ImageSpec[];
    readonly artifactSource: "image" | "local";
    readonly localArtifactDir?: string;
    readonly release?: string;
    readonly push: boolean;
    readonly buildOnPreview: boolean;
}

/**
 * Reads a key as JSON-or-string and records a problem that names the key when
 * it does not parse; `pulumi config set` stores objects as JSON strings.
 */
export class ConfigReader {
    /** Every problem found so far; the caller throws them together. */
    readonly problems = new Problems();
    /** The config namespace being read. */
    readonly config: pulumi.Config;

    constructor(/** Config namespace (the part before `:`). Default: `imagefleet`. */ readonly namespace = "imagefleet") {
        this.config = new pulumi.Config(namespace);
    }

    key(name: string): string {
        return `${this.namespace}:${name}`;
    }

    /**
     * The key's value, or undefined when unset. Pulumi.yaml gives every
     * optional key a default so the engine does not demand it; for keys with
     * no natural default that default is "", which means unset.
     */
    raw(name: string): string | undefined {
        const value = this.config.get(name);
        return value === "" ? undefined : value;
    }

    object<T>(name: string, check: (v: unknown) => string | undefined): T | undefined {
        const raw = this.raw(name);
        if (raw === undefined) {
            return undefined;
        }
        let value: unknown;
        try {
            value = JSON.parse(raw);
        } catch {
            this.problems.add(`${this.key(name)}: ${JSON.stringify(raw)} is not valid JSON/YAML structure`);
            return undefined;
        }
        const problem = check(value);
        if (problem) {
            this.problems.add(`${this.key(name)}: ${problem}`);
            return undefined;
        }
        return value as T;
    }

    string(name: string, pattern?: RegExp, valid?: string): string | undefined {
        const value = this.raw(name);
        if (value !== undefined && pattern && !pattern.test(value)) {
            this.problems.add(`${this.key(name)}: ${JSON.stringify(value)} is not valid; ${valid ?? `must match ${pattern}`}`);
            return undefined;
        }
        return value;
    }

    boolean(name: string, fallback: boolean): boolean {
        const value = this.raw(name);
        if (value === undefined) {
            return fallback;
        }
        if (value !== "true" && value !== "false") {
            this.problems.add(`${this.key(name)}: ${JSON.stringify(value)} is not valid; valid: true, false`);
            return fallback;
        }
        return value === "true";
    }

    throwIfAny(): void {
        this.problems.throwIfAny("stack config", pulumi.getStack());
    }
}

export const isStringMap = (v: unknown): string | undefined =>
    typeof v === "object" && v !== null && !Array.isArray(v) && Object.values(v).every((x) => typeof x === "string")
        ? undefined
        : `must be a map of strings, got ${JSON.stringify(v)}`;

const isStringList = (v: unknown): string | undefined =>
    Array.isArray(v) && v.every((x) => typeof x === "string" && x !== "") ? undefined : `must be a list of strings, got ${JSON.stringify(v)}`;

function checkPlatforms(v: unknown): string | undefined {
    if (!Array.isArray(v) || v.length === 0) {
        return `must be a non-empty list of platforms; valid: ${listOf(SUPPORTED_PLATFORMS)}`;
    }
    const bad = v.filter((p) => !isPlatform(p));
    return bad.length > 0 ? `${listOf(bad.map(String))} is not a supported platform; valid: ${listOf(SUPPORTED_PLATFORMS)}` : undefined;
}

/** Platforms `imagefleet:fleet` has nodes for; they need no `imagefleet:builders` entry (stack/builders.ts checks the fleet itself). */
function platformsOfFleet(raw: string | undefined): string[] {
    try {
        const nodes = raw === undefined ? undefined : JSON.parse(raw)?.nodes;
        return typeof nodes === "object" && nodes !== null ? Object.keys(nodes) : [];
    } catch {
        return [];
    }
}

/**
 * Reads and validates the project's config for the current stack. Throws one
 * ValidationError naming each bad key and the stack before anything is declared.
 */
export function loadStackConfig(env: NodeJS.ProcessEnv = process.env): StackConfig {
    const r = new ConfigReader();
    const stack = pulumi.getStack();

    const registry = r.object<StackConfig["registry"]>("registry", (v) => {
        const o = v as Record<string, unknown>;
        if (typeof o !== "object" || o === null || typeof o.address !== "string" || o.address === "") {
            return `must be an object with an "address" (e.g. {"address": "registry.localhost:5000"}), got ${JSON.stringify(v)}`;
        }
        return "password" in o ? "put the password in the secret key imagefleet:registryPassword, not in plain config" : undefined;
    });
    if (registry === undefined && r.raw("registry") === undefined) {
        r.problems.add(`${r.key("registry")} is required, e.g. {"address": "registry.localhost:5000"}`);
    }
    const platforms = r.object<Platform[]>("platforms", checkPlatforms) ?? [...DEFAULT_PLATFORMS];
    const builders = r.object<Partial<Record<Platform, string>>>("builders", (v) => {
        const bad = isStringMap(v);
        if (bad) {
            return bad;
        }
        const keys = Object.keys(v as object).filter((k) => !isPlatform(k));
        return keys.length > 0 ? `${listOf(keys)} is not a platform; valid keys: ${listOf(SUPPORTED_PLATFORMS)}` : undefined;
    }) ?? {};
    const fallbackBranches = r.object<string[]>("fallbackBranches", isStringList) ?? ["main"];
    const variants = r.object<Record<string, Record<string, string>>>("variants", (v) =>
        typeof v === "object" && v !== null && !Array.isArray(v)
            ? Object.entries(v).map(([k, x]) => (isStringMap(x) ? `variant ${JSON.stringify(k)} ${isStringMap(x)}` : undefined)).find(Boolean)
            : `must be a map of variant name to build args, got ${JSON.stringify(v)}`) ?? {};
    const buildArgs = r.object<Record<string, string>>("buildArgs", isStringMap) ?? {};
    const images = r.object<ImageSpec[]>("images", (v) =>
        Array.isArray(v) && v.every((x) => typeof x === "object" && x !== null) ? undefined : `must be a list of image objects, got ${JSON.stringify(v)}`);
    const artifactSource = (r.string("artifactSource", /^(image|local)$/, "valid: \"image\", \"local\"") ?? "image") as "image" | "local";
    const localArtifactDir = r.string("localArtifactDir");
    if (artifactSource === "local" && !localArtifactDir) {
        r.problems.add(`${r.key("localArtifactDir")} is required when ${r.key("artifactSource")} is "local"`);
    }
    const release = r.string("release", SEMVER, "use a semver version such as \"1.4.0\"");
    const git = resolveGit({ branch: r.raw("gitBranch"), sha: r.raw("gitSha") }, env);
    if (!git.branch) {
        r.problems.add(`${r.key("gitBranch")}: no branch found in config, CI variables or git; set it`);
    }
    if (!SHA.test(git.sha)) {
        r.problems.add(`${r.key("gitSha")}: ${JSON.stringify(git.sha)} (from ${git.source}) is not a commit SHA (7 to 64 hex characters)`);
    }
    const push = r.boolean("push", true);
    const cacheWrite = r.boolean("cacheWrite", true);
    const buildOnPreview = r.boolean("buildOnPreview", false);

    const fleetPlatforms = platformsOfFleet(r.raw("fleet"));
    // A promoting stack (prod) builds nothing, so it needs no builder at all.
    const builds = r.raw("promoteFrom") === undefined;
    for (const p of builds ? platforms.filter(isPlatform) : []) {
        if (!builders[p] && !fleetPlatforms.includes(p)) {
            r.problems.add(`${r.key("builders")}: platform ${JSON.stringify(p)} (from ${r.key("platforms")}) has no builder; set ${r.key("builders")}["${p}"] to a buildx builder name`);
        }
    }
    r.throwIfAny();

    const password = r.config.getSecret("registryPassword");
    return {
        stack,
        registry: { ...registry!, password },
        platforms,
        builders,
        git,
        fallbackBranches,
        cacheWrite,
        variants,
        buildArgs,
        images,
        artifactSource,
        localArtifactDir,
        release,
        push,
        buildOnPreview,
    };
}
