import * as pulumi from "@pulumi/pulumi";
import { Issue, listOf, Problems, show, unknownKeyMessage } from "../errors";
import { parseIssues } from "../schema";
import { resolveGit, ResolvedGit } from "../images/git";
import { DEFAULT_PLATFORMS, isPlatform, Platform } from "../images/platforms";
import { ImageSpec } from "../images/types";
import { CONFIG_KEY_NAMES, CONFIG_KEYS, ConfigKeyName } from "./schema";

/** The environments imagefleet ships stacks for. */
export const ENVIRONMENTS = ["local", "dev", "staging", "prod"] as const;

/** The config namespace: the project's name. */
export const NAMESPACE = "imagefleet";

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
    /** Per platform, a builder name or a pool of them. */
    readonly builders: Partial<Record<Platform, string | string[]>>;
    readonly git: ResolvedGit;
    readonly fallbackBranches: string[];
    readonly cacheWrite: boolean;
    /** Default: the first fallback branch. */
    readonly deployBranch?: string;
    readonly checks: "warn" | "error" | "off";
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

/** The decoded values of the keys that are set and valid, and the problems of the others. */
export interface ConfigValues {
    readonly values: Partial<Record<ConfigKeyName, unknown>>;
    /** Every set key's decoded value, valid or not (rules across fields check what is well-formed in it). */
    readonly decoded: Partial<Record<ConfigKeyName, unknown>>;
    /** Keys that are set (valid or not). */
    readonly set: ReadonlySet<ConfigKeyName>;
    readonly issues: Issue[];
}

/**
 * The key's value, or undefined when unset. Pulumi.yaml gives every
 * optional key a default so the engine does not demand it; for keys with
 * no natural default that default is "", which means unset.
 */
function rawValue(config: pulumi.Config, key: ConfigKeyName): string | undefined {
    if ("secret" in CONFIG_KEYS[key]) {
        return undefined;
    }
    const value = config.get(key);
    return value === "" ? undefined : value;
}

/** The engine's string as the value it stands for; `json` keys that do not parse stay strings and are checked as such. */
function decode(key: ConfigKeyName, raw: string): { value: unknown; notJson?: string } {
    switch (CONFIG_KEYS[key].decode) {
        case "boolean":
            return { value: raw === "true" ? true : raw === "false" ? false : raw };
        case "json":
            try {
                return { value: JSON.parse(raw) };
            } catch (err) {
                return { value: raw, notJson: err instanceof Error ? err.message : String(err) };
            }
        default:
            return { value: raw };
    }
}

/**
 * Reads every key of the namespace and checks each against its schema, plus
 * the keys no schema knows (typos), each with a did-you-mean.
 */
export function readConfigValues(config = new pulumi.Config(NAMESPACE)): ConfigValues {
    const values: Partial<Record<ConfigKeyName, unknown>> = {};
    const decoded: Partial<Record<ConfigKeyName, unknown>> = {};
    const set = new Set<ConfigKeyName>();
    const issues: Issue[] = [];
    for (const key of CONFIG_KEY_NAMES) {
        const raw = rawValue(config, key);
        if (raw === undefined) {
            continue;
        }
        set.add(key);
        const { value, notJson } = decode(key, raw);
        decoded[key] = value;
        const found = parseIssues(CONFIG_KEYS[key].schema, value, [key]);
        if (notJson !== undefined && found.some((i) => i.path.length === 1)) {
            // A YAML scalar (or broken JSON) where a list or object belongs.
            const what = /^\s*[[{]/.test(raw) ? `is not valid JSON (${notJson})` : "in YAML, a list is [a, b] or one \"- item\" per line, and an object is {key: value} or one \"key: value\" per line";
            issues.push(...found.map((i) => (i.path.length === 1 ? { ...i, message: `${i.message}; ${what}` } : i)));
        } else {
            issues.push(...found);
        }
        if (found.length === 0) {
            values[key] = value;
        }
    }
    const prefix = `${NAMESPACE}:`;
    const known = CONFIG_KEY_NAMES.map((k) => `${prefix}${k}`);
    for (const full of Object.keys(pulumi.runtime.allConfig()).filter((k) => k.startsWith(prefix) && !known.includes(k)).sort()) {
        issues.push({ path: [full.slice(prefix.length)], message: unknownKeyMessage(full, known, (k) => k) });
    }
    return { values, decoded, set, issues };
}

/** Platforms `imagefleet:fleet` has nodes for; they need no `imagefleet:builders` entry. */
function platformsOfFleet(fleet: unknown): string[] {
    const nodes = typeof fleet === "object" && fleet !== null ? (fleet as { nodes?: unknown }).nodes : undefined;
    return typeof nodes === "object" && nodes !== null ? Object.keys(nodes) : [];
}

/** The well-formed entries of `imagefleet:builders`, so one bad entry does not hide the others. */
function goodBuilders(raw: string | undefined): Partial<Record<Platform, string | string[]>> {
    const named = (v: unknown) => (typeof v === "string" && v !== "") || (Array.isArray(v) && v.length > 0 && v.every((n) => typeof n === "string" && n !== ""));
    try {
        const parsed: unknown = raw === undefined ? {} : JSON.parse(raw);
        return typeof parsed === "object" && parsed !== null && !Array.isArray(parsed)
            ? Object.fromEntries(Object.entries(parsed).filter(([k, v]) => isPlatform(k) && named(v)))
            : {};
    } catch {
        return {};
    }
}

/** The config, decoded and checked key by key, plus the rules between keys that need nothing but config. */
export interface CheckedConfig {
    readonly config: StackConfig;
    readonly read: ConfigValues;
    readonly issues: Issue[];
    /** What is allowed but likely a mistake, one message each (naming the key and the stack). */
    readonly warnings: readonly string[];
}

/** Reads every key and checks the rules between them; no resource, no throw. */
export function checkStackConfig(env: NodeJS.ProcessEnv = process.env): CheckedConfig {
    const stack = pulumi.getStack();
    const cfg = new pulumi.Config(NAMESPACE);
    const read = readConfigValues(cfg);
    const { values: v, set } = read;
    const issues: Issue[] = [...read.issues];

    if (!set.has("registry")) {
        issues.push({ path: ["registry"], message: 'is required, e.g. {"address": "registry.localhost:5000"}' });
    }
    const platforms = (v.platforms as Platform[] | undefined) ?? [...DEFAULT_PLATFORMS];
    (v.platforms as string[] | undefined)?.forEach((p, i, all) => {
        if (all.indexOf(p) !== i) {
            issues.push({ path: ["platforms", i], message: `${show(p)} is listed twice` });
        }
    });
    const builders = (v.builders as Partial<Record<Platform, string | string[]>> | undefined) ?? goodBuilders(rawValue(cfg, "builders"));
    const images = v.images as ImageSpec[] | undefined;
    const artifactSource = (v.artifactSource as "image" | "local" | undefined) ?? "image";
    const localArtifactDir = v.localArtifactDir as string | undefined;
    if (set.has("images")) {
        if (artifactSource === "local" || set.has("localArtifactDir")) {
            const key = artifactSource === "local" ? "artifactSource" : "localArtifactDir";
            issues.push({ path: [key], message: `only applies to the example family, and ${NAMESPACE}:images is set; give the runtime image from: {"<context>": {"local": "<dir>"}} instead` });
        }
    } else if (artifactSource === "local" && !set.has("localArtifactDir")) {
        issues.push({ path: ["localArtifactDir"], message: `is required when ${NAMESPACE}:artifactSource is "local" (a directory with artifact/bin/hello)` });
    } else if (artifactSource === "image" && set.has("localArtifactDir") && v.localArtifactDir !== undefined) {
        issues.push({ path: ["localArtifactDir"], message: `only used when ${NAMESPACE}:artifactSource is "local" (it is "image"); remove it or set artifactSource to "local"` });
    }

    const git = resolveGit({ branch: rawValue(cfg, "gitBranch"), sha: rawValue(cfg, "gitSha") }, env);
    if (!set.has("gitBranch")) {
        const found = parseIssues(CONFIG_KEYS.gitBranch.schema, git.branch, ["gitBranch"]);
        issues.push(...found.map((i) => ({ ...i, message: git.branch === "" ? "no branch found in config, CI variables or git; set it" : `${i.message} (from ${git.source})` })));
    }
    if (!set.has("gitSha")) {
        const found = parseIssues(CONFIG_KEYS.gitSha.schema, git.sha, ["gitSha"]);
        issues.push(...found.map((i) => ({ ...i, message: `${i.message} (from ${git.source})` })));
    }

    // A promoting stack (prod) builds nothing, so it needs no builder at all.
    // From the fleet as given, even when it has problems of its own: those are reported on imagefleet:fleet.
    const fleetPlatforms = platformsOfFleet(read.decoded.fleet);
    const builds = !set.has("promoteFrom");
    const used = images === undefined || !set.has("images")
        ? platforms
        : platforms.filter((p) => images.some((i) => (i.platforms ?? platforms).includes(p)));
    // One error per mistake: a builders value the schema refused is reported there, not again as missing.
    // Nor when the fleet names a platform that is not one: which platforms it serves is its error's to say.
    const fleetUnclear = fleetPlatforms.some((p) => !isPlatform(p));
    if (builds && !fleetUnclear && !read.issues.some((i) => i.path[0] === "builders")) {
        for (const p of used.filter(isPlatform)) {
            if (!builders[p] && !fleetPlatforms.includes(p)) {
                issues.push({ path: ["builders"], message: `platform ${show(p)} (from ${NAMESPACE}:platforms) has no builder; set ${NAMESPACE}:builders["${p}"] to a buildx builder name` });
            }
        }
    }

    const registry = (v.registry as StackConfig["registry"] | undefined) ?? { address: "" };
    const config: StackConfig = {
        stack,
        registry: { ...registry, password: cfg.getSecret("registryPassword") },
        platforms,
        builders,
        git,
        fallbackBranches: (v.fallbackBranches as string[] | undefined) ?? ["main"],
        cacheWrite: (v.cacheWrite as boolean | undefined) ?? true,
        // Unset: ImageFamily reads a pull request's target branch from the CI (pullRequestBase).
        deployBranch: v.deployBranch as string | undefined,
        checks: (v.checks as "warn" | "error" | "off" | undefined) ?? "warn",
        variants: (v.variants as Record<string, Record<string, string>> | undefined) ?? {},
        buildArgs: (v.buildArgs as Record<string, string> | undefined) ?? {},
        images,
        artifactSource,
        localArtifactDir,
        release: v.release as string | undefined,
        push: (v.push as boolean | undefined) ?? true,
        buildOnPreview: (v.buildOnPreview as boolean | undefined) ?? false,
    };
    // A builder for a platform nothing builds is not wrong (a fleet may serve other stacks), but it is
    // often a platform missing from imagefleet:platforms: say so, and build nothing on it.
    const idle = Object.keys(builders).filter((p) => builds && !used.includes(p as Platform));
    const warnings = idle.map((p) => `${NAMESPACE}:builders: ${show(p)} has a builder, but stack "${stack}" builds nothing for it (${NAMESPACE}:platforms: ${listOf(platforms)}); ` +
        `add it to ${NAMESPACE}:platforms to build it, or remove the entry`);
    return { config, read, issues, warnings };
}

/** Throws one ValidationError for the stack config listing every issue, each as `imagefleet:<path>: <message>`. */
export function throwConfigIssues(issues: readonly Issue[], stack = pulumi.getStack()): void {
    const problems = new Problems();
    problems.addIssues(issues, `${NAMESPACE}:`);
    problems.throwIfAny("stack config", stack);
}
