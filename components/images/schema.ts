import * as net from "net";
import * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { listOf, show } from "../errors";
import { checked, hint, input, isOutputLike, keyedMap, matching, nonEmpty, parseIssues } from "../schema";
import { Platform, SUPPORTED_PLATFORMS } from "./platforms";
import { IMAGE_KINDS, ImageFamilyArgs, ImageKind, ImageSpec, PoolBuilder } from "./types";

/**
 * The schema of ImageFamilyArgs and of the values it shares with the stack
 * config (image specs, registry, branch names, build args, releases). The
 * rules that need more than one field (the graph, platforms per image, tags
 * over the whole plan, files on disk) are in validate.ts and plan.ts.
 */

export const NAME_RE = /^[a-z0-9][a-z0-9._-]{0,62}$/;
export const SHA_RE = /^[0-9a-fA-F]{7,64}$/;
// semver.org's regular expression, with the build metadata captured separately.
const SEMVER_RE = /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(\+[0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*)?$/;
const NAMESPACE_RE = /^[a-z0-9]+(?:[._/-][a-z0-9]+)*$/;
const CONTEXT_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const BUILD_ARG_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;
const DNS_LABEL = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;

export const IMAGE_NAME_HINT = "an image name: lowercase letters, digits, '.', '_' or '-', starting with a letter or digit, at most 63";
export const imageName = matching(NAME_RE, IMAGE_NAME_HINT);
export const variantName = matching(NAME_RE, "a variant name: lowercase letters, digits, '.', '_' or '-', starting with a letter or digit, at most 63");
export const platform = hint(z.enum(SUPPORTED_PLATFORMS as [Platform, ...Platform[]], {
    error: (iss) => (iss.code === "invalid_value" ? `${show(iss.input)} is not a supported platform; valid: ${listOf(SUPPORTED_PLATFORMS)}` : undefined),
}), `a supported platform: ${SUPPORTED_PLATFORMS.join(", ")}`);
export const platformList = hint(z.array(platform).min(1), `a non-empty list of platforms (${SUPPORTED_PLATFORMS.join(", ")})`);
export const sha = matching(SHA_RE, "a commit SHA (7 to 64 hex characters)");

/** Why a semver release cannot be published as a tag, or undefined when it can. */
export function releaseProblem(value: string): string | undefined {
    const m = SEMVER_RE.exec(value);
    if (!m) {
        return `${show(value)} is not a semver version such as "1.4.0" or "1.4.0-rc.1"`;
    }
    if (m[5] !== undefined) {
        const core = value.slice(0, value.length - m[5].length);
        const asPreRelease = `${core}${m[4] === undefined ? "-" : "."}${m[5].slice(1)}`;
        return `${show(value)} has build metadata (${show(m[5])}), which a tag cannot hold ('+' is not allowed in tags); use ${show(core)}, or the pre-release ${show(asPreRelease)}`;
    }
    return undefined;
}
export const release = checked(releaseProblem, 'a semver version such as "1.4.0" (no build metadata: tags cannot hold \'+\')');

/**
 * Why git would refuse a branch name (`git check-ref-format --branch`), or
 * undefined. A branch is keyed on in cache refs; a name git cannot have means
 * the config or CI variable is wrong, so it is refused rather than rewritten.
 */
export function branchProblem(name: string): string | undefined {
    const why = (reason: string) => `${show(name)} is not a branch name git allows: ${reason}`;
    if (name === "") {
        return "is empty; give the branch name";
    }
    if (name === "@" || name === "HEAD") {
        return why(`${show(name)} is reserved`);
    }
    if (name.startsWith("-")) {
        return why("it starts with '-'");
    }
    // eslint-disable-next-line no-control-regex
    const bad = /[\x00-\x20\x7f~^:?*[\\]/.exec(name);
    if (bad) {
        return why(bad[0] === " " ? "it contains a space" : `it contains ${show(bad[0])}`);
    }
    if (name.includes("..")) {
        return why("it contains '..'");
    }
    if (name.includes("@{")) {
        return why("it contains '@{'");
    }
    if (name.startsWith("/") || name.endsWith("/") || name.includes("//")) {
        return why("it has an empty path component ('/' at an end, or '//')");
    }
    if (name.endsWith(".")) {
        return why("it ends with '.'");
    }
    const component = name.split("/").find((c) => c.startsWith(".") || c.endsWith(".lock"));
    if (component !== undefined) {
        return why(`its component ${show(component)} ${component.startsWith(".") ? "starts with '.'" : "ends with '.lock'"}`);
    }
    return undefined;
}
export const branchName = checked(branchProblem, "a git branch name");

/** Why an address is not `host[:port]`, or undefined. */
export function registryAddressProblem(address: string): string | undefined {
    const valid = 'the address is a registry host and optional port, e.g. "registry.localhost:5000" or "123456789012.dkr.ecr.eu-west-1.amazonaws.com"';
    const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(address);
    if (scheme) {
        return `${show(address)} has a scheme (${show(scheme[0])}); ${valid}`;
    }
    const slash = address.indexOf("/");
    if (slash >= 0) {
        return `${show(address)} has a path (${show(address.slice(slash))}); ${valid}, and the path goes in namespace`;
    }
    const m = /^(\[[^\]]*\]|[^:]*)(?::(.*))?$/.exec(address);
    const host = m?.[1] ?? address;
    const port = m?.[2];
    if (port !== undefined && (!/^\d{1,5}$/.test(port) || Number(port) < 1 || Number(port) > 65535)) {
        return `${show(address)} has port ${show(port)}, which is not a TCP port (1-65535); ${valid}`;
    }
    const ok = host.startsWith("[")
        ? net.isIPv6(host.slice(1, -1))
        : net.isIPv4(host) || (host.length <= 253 && host.split(".").every((l) => DNS_LABEL.test(l)));
    return ok ? undefined : `${show(address)} is not a host name or IP address; ${valid}`;
}
export const registryAddress = checked(registryAddressProblem, 'a registry host[:port], e.g. "registry.localhost:5000"');

/** Why a repository (`host[:port]/path`) is not one, or undefined. */
export function repositoryProblem(repository: string): string | undefined {
    const slash = repository.indexOf("/");
    const hostProblem = slash < 0 ? `${show(repository)} has no path` : registryAddressProblem(repository.slice(0, slash));
    if (hostProblem !== undefined || !NAMESPACE_RE.test(repository.slice(slash + 1))) {
        return `${show(repository)} is not a repository such as "registry.example.com/team/runtime" (host[:port]/path, lowercase path, no tag)`;
    }
    return undefined;
}
export const repository = checked(repositoryProblem, 'a repository such as "registry.example.com/team/runtime"');

export const buildArgs = hint(keyedMap(
    (k) => (BUILD_ARG_RE.test(k) ? undefined : `${show(k)} is not a build arg name: a letter or '_', then letters, digits or '_' (what a Dockerfile's \${NAME} expands)`),
    hint(z.string(), "a string (build arg values are strings; quote numbers)"),
    "a map of build arg name to string value",
), "a map of build arg name to string value");

const contextName = (k: string) => (CONTEXT_NAME_RE.test(k) ? undefined : `${show(k)} is not a build context name (letters, digits, '.', '_', '-')`);
const localDir = hint(z.string().min(1), "a directory");

export const fromSource = hint(z.union([
    imageName,
    z.strictObject({ image: imageName }),
    z.strictObject({ local: localDir }),
]), 'an image name, {"image": "<name>"} or {"local": "<directory>"}');

export const imageFrom = hint(z.union([
    z.array(imageName),
    keyedMap(contextName, fromSource, "a map of context name to source"),
]), 'a list of image names, or a map of context name to source ({"ctx": "<image>"} or {"ctx": {"local": "<dir>"}})');

export const imageSpec = hint(z.strictObject({
    name: imageName,
    kind: hint(z.enum(IMAGE_KINDS as [ImageKind, ...ImageKind[]]), '"dev-env", "artifact" or "runtime"'),
    context: hint(z.string().min(1), "a directory with the build's files"),
    dockerfile: hint(z.string().min(1), "a Dockerfile path relative to context").optional(),
    target: hint(z.string().min(1), "a build stage name").optional(),
    buildArgs: buildArgs.optional(),
    from: imageFrom.optional(),
    variants: z.boolean().optional(),
    platforms: platformList.optional(),
}), 'an image: {"name", "kind", "context", "dockerfile", "target", "buildArgs", "from", "variants", "platforms"}');

const repositoryMap = hint(z.record(z.string(), input(repository)), "a map of image name to repository");

export const registrySpec = hint(z.strictObject({
    address: input(registryAddress),
    namespace: matching(NAMESPACE_RE, 'a repository path such as "team" or "team/dev" (lowercase letters, digits, separators . _ - /)').optional(),
    username: input(hint(z.string().min(1), "a user name")).optional(),
    password: input(z.string()).optional(),
    repositories: repositoryMap.optional(),
    cacheRepositories: repositoryMap.optional(),
}), 'a registry: {"address": "host[:port]", "namespace": "path"}');

/** buildx's own rule for builder names (store/util.go); it refuses any other, and stores them in lower case. */
export const BUILDER_NAME_RE = /^[a-zA-Z][a-zA-Z0-9._-]*$/;
export const plainBuilderName = matching(BUILDER_NAME_RE, "a buildx builder name (a letter, then letters, digits, '.', '_' or '-')");
export const builderName = input(plainBuilderName);
const POOL_HINT = 'a buildx builder name, or a pool of them, e.g. "ci-amd64" or ["ci-amd64-a", "ci-amd64-b"]';

/** Names listed twice in a pool (buildx names are case-insensitive): each later one is an issue. */
function refuseDuplicates(names: readonly unknown[], ctx: z.core.$RefinementCtx): void {
    const seen = new Map<string, number>();
    names.forEach((entry, i) => {
        const name = typeof entry === "string" ? entry : (entry as { name?: unknown } | null)?.name;
        if (typeof name !== "string") {
            return;
        }
        const first = seen.get(name.toLowerCase());
        if (first === undefined) {
            seen.set(name.toLowerCase(), i);
        } else {
            ctx.addIssue({ code: "custom", path: [i], input: entry, message: `${show(name)} is already in the pool (entry ${first}); each builder once` });
        }
    });
}

/** A pool of plain builder names, as stack config holds it. */
export const builderNameList = hint(z.array(plainBuilderName).min(1, { error: "an empty pool has no builder; list at least one name" }).superRefine(refuseDuplicates), POOL_HINT);

/** A platform's builders as stack config holds them: a name, or a pool of names. */
export const plainBuilderPool = hint(z.union([plainBuilderName, builderNameList]), POOL_HINT);

const poolBuilder = hint(z.strictObject({
    name: plainBuilderName,
    ready: z.custom<pulumi.Input<unknown>>((v) => v !== undefined, { error: "is required: what resolves once the builder is registered" }),
}), '{"name": "<builder>", "ready": <resolves once it is registered>} (a BuilderFleet\'s builders)');

const poolEntry = z.union([plainBuilderName, poolBuilder]);

/** Each entry of a pool: a name or `{ name, ready }`; an Output is refused with why, not as an object of the wrong shape. */
function checkEntries(entries: readonly unknown[], ctx: z.core.$RefinementCtx): void {
    entries.forEach((entry, i) => {
        if (isOutputLike(entry)) {
            ctx.addIssue({
                code: "custom", path: [i], input: entry,
                message: "is an Output, but a pool's names decide where each build goes and must be known when the family is declared: "
                    + "give the name as a string, or { name, ready } with what it waits for (a BuilderFleet's builders are these); a lone Output may be builders[platform] itself",
            });
            return;
        }
        for (const issue of parseIssues(poolEntry, entry, [i])) {
            ctx.addIssue({ code: "custom", path: [...issue.path], input: entry, message: issue.message });
        }
    });
    refuseDuplicates(entries, ctx);
}

/** A platform's builders: one name (an Output too), or a pool whose names are known now (they decide where each build goes). */
export const builderPool = hint(z.union([
    builderName,
    z.array(z.unknown()).min(1, { error: "an empty pool has no builder; list at least one name" }).superRefine(checkEntries) as unknown as z.ZodType<readonly (string | PoolBuilder)[]>,
]), POOL_HINT);

export const imageFamilyArgs = z.strictObject({
    images: nonEmpty(imageSpec, "the family is empty; declare at least one image (kinds: dev-env, artifact, runtime)", "a non-empty list of images"),
    platforms: platformList.optional(),
    builders: hint(z.partialRecord(platform, builderPool), 'a map of platform to a buildx builder name or a pool of them, e.g. {"linux/amd64": ["ci-amd64-a", "ci-amd64-b"]}'),
    registry: registrySpec,
    // `source` is what resolveGit adds (config, environment or git); a ResolvedGit is a GitSpec.
    git: hint(z.strictObject({ branch: branchName, sha, source: z.string().optional() }), 'the commit: {"branch": "main", "sha": "<hex>"}'),
    buildArgs: buildArgs.optional(),
    variants: keyedMap((k) => (NAME_RE.test(k) ? undefined : `${show(k)} is not a variant name: lowercase letters, digits, '.', '_' or '-', starting with a letter or digit, at most 63`),
        buildArgs, "a map of variant name to build args").optional(),
    cache: z.strictObject({
        disabled: z.boolean().optional(),
        fallbackBranches: hint(z.array(branchName), "a list of branch names").optional(),
        write: z.boolean().optional(),
        deployBranch: branchName.optional(),
    }).optional(),
    tags: z.strictObject({
        environment: hint(z.string(), "an environment name").optional(),
        release: release.optional(),
    }).optional(),
    push: z.boolean().optional(),
    buildOnPreview: z.boolean().optional(),
    retainOnDelete: z.boolean().optional(),
    baseDir: hint(z.string().min(1), "a directory").optional(),
    stageDir: hint(z.string().min(1), "a directory, relative to the working directory").optional(),
    sourceDateEpoch: hint(z.number().int().min(0), "seconds since 1970 (a non-negative integer), constant across commits").optional(),
    checks: hint(z.enum(["warn", "error", "off"]), '"warn", "error" or "off"').optional(),
    previousRecord: input(hint(z.string(), "a record an earlier run of the family produced (its record output)")).optional(),
    contextLimits: z.strictObject({
        maxBytes: hint(z.number().int().positive(), "a positive whole number of bytes, e.g. 104857600 (100 MiB)").optional(),
        maxFiles: hint(z.number().int().positive(), "a positive whole number of files, e.g. 20000").optional(),
    }).optional(),
});

// The schema and the documented interfaces describe the same objects: a field
// added to one and not the other fails to compile here.
type SameKeys<A, B> = [Exclude<keyof A, keyof B>, Exclude<keyof B, keyof A>] extends [never, never] ? true : never;
const _familyKeys: SameKeys<z.infer<typeof imageFamilyArgs>, ImageFamilyArgs> = true;
const _imageKeys: SameKeys<z.infer<typeof imageSpec>, ImageSpec> = true;
// And what the schema accepts is what the interface types.
const _familyType: z.ZodType<ImageFamilyArgs> = imageFamilyArgs;
void [_familyKeys, _imageKeys, _familyType];
