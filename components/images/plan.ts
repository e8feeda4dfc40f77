import { Issue, show } from "../errors";
import { archOf, DEFAULT_PLATFORMS, PLATFORM_ARCH, Platform } from "./platforms";
import { branchSlug, cacheTag, platformTag, tagNames, variantsOf, variantSuffix } from "./policy";
import { ImageFamilyArgs } from "./types";

/**
 * Every tag the family would push, enumerated before anything is declared, so
 * that two resources never push the same tag (the second would silently
 * replace the first's image) and no tag is one a registry refuses.
 *
 * The tagging scheme (DESIGN-10): per platform `build-<inputs12>[-variant]-<arch>`,
 * whose hash is only known once the build's inputs are staged, so each
 * build's is an opaque token distinct from every other build's; the index
 * `index-<digests12>[-variant]` (opaque too); the commit's tag
 * `<sha12>[-variant]`; aliases `<environment>[-variant]` and `v<release>[-variant]`;
 * cache refs `<branchSlug>[-variant]-<arch>` in the cache repository.
 */

const HASH = "<hash>";
const MAX_TAG = 128;
const TAG_RE = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;

interface Planned {
    /** Repository key: the repository's name, or a stand-in for one only known later (an Output). */
    readonly repository: string;
    /** The tag; per-platform tags contain `<hash>`. */
    readonly tag: string;
    /** Who pushes it, for messages. */
    readonly owner: string;
    /** The argument to blame. */
    readonly path: readonly PropertyKey[];
    /** A tag another branch's builds push (a fallback branch's cache), not this plan. */
    readonly foreign?: boolean;
    /** What pushes it without the image and platform, so one clash across images and platforms is reported once. */
    readonly group: string;
}

/** Whether a per-platform tag (with its opaque hash) could ever equal a plain tag. */
function templateMatches(template: string, tag: string): boolean {
    const [before, after] = template.split(HASH);
    return tag.length === before.length + 12 + after.length && tag.startsWith(before) && tag.endsWith(after)
        && /^[0-9a-f]{12}$/.test(tag.slice(before.length, before.length + 12));
}

/** Stand-ins for values only known later (Outputs): each object is one distinct repository. */
class Opaque {
    private readonly ids = new WeakMap<object, number>();
    private next = 0;

    key(value: unknown): string {
        if (typeof value === "string") {
            return value;
        }
        if (typeof value !== "object" || value === null) {
            return `<${String(value)}>`;
        }
        let id = this.ids.get(value);
        if (id === undefined) {
            id = this.next++;
            this.ids.set(value, id);
        }
        return `<output ${id}>`;
    }
}

export interface PlanOptions {
    /** The moving tag when `tags.environment` is unset: the stack name. */
    readonly stack: string;
}

/**
 * The plan's problems: shared repositories, variant names that read as
 * platforms, tags two resources push, cache refs two branches share, and tags
 * a registry refuses. Expects arguments that passed the schema.
 */
export function planIssues(args: ImageFamilyArgs, options: PlanOptions): Issue[] {
    const issues: Issue[] = [];
    const opaque = new Opaque();
    const familyPlatforms = args.platforms ?? DEFAULT_PLATFORMS;
    const variantNames = Object.keys(args.variants ?? {});
    const fallbacks = args.cache?.fallbackBranches ?? ["main"];
    const branch = args.git.branch;
    const environment = args.tags?.environment ?? options.stack;
    const cacheOn = !(args.cache?.disabled ?? false);
    const push = args.push ?? true;
    const ns = args.registry.namespace ? `${args.registry.namespace}/` : "";
    const archs = [...new Set(Object.values(PLATFORM_ARCH))];

    // Variant names that end like a platform make tags that cannot be told apart.
    for (const v of variantNames) {
        const arch = archs.find((a) => v === a || v.endsWith(`-${a}`));
        if (arch === undefined) {
            continue;
        }
        const base = v === arch ? "" : v.slice(0, -(arch.length + 1));
        const twin = base === "" ? "the default variant" : `variant ${show(base)}`;
        const p = Object.keys(PLATFORM_ARCH).find((k) => PLATFORM_ARCH[k] === arch)!;
        const sha12 = args.git.sha.slice(0, 12).toLowerCase();
        issues.push({
            path: ["variants", v],
            message: `${show(v)} ${v === arch ? "is the platform arch" : "ends with the platform suffix"} ${show(v === arch ? arch : `-${arch}`)}, so its tags read like ${twin}'s ${p} tags ` +
                `(${twin} on ${p}: ${show(platformTag(HASH, base, arch))}, cache ${show(cacheTag(branchSlug(branch, fallbacks), base, arch))}; ` +
                `variant ${show(v)}: ${show(`${sha12}-${v}`)}); valid: a variant name that is not a platform arch (${archs.join(", ")}) and does not end in -<arch>`,
        });
    }

    const planned: Planned[] = [];
    const repositories = new Map<string, { owner: string; path: readonly PropertyKey[] }>();
    const claimRepository = (repo: string, owner: string, path: readonly PropertyKey[]) => {
        const first = repositories.get(repo);
        if (first !== undefined) {
            issues.push({ path, message: `${owner} is ${show(repo)}, which is already ${first.owner}; every image and every cache needs its own repository` });
        } else {
            repositories.set(repo, { owner, path });
        }
    };

    args.images.forEach((spec, i) => {
        const explicit = args.registry.repositories?.[spec.name];
        const repo = explicit !== undefined ? opaque.key(explicit) : `${opaque.key(args.registry.address)}/${ns}${spec.name}`;
        const explicitCache = args.registry.cacheRepositories?.[spec.name];
        const cacheRepo = explicitCache !== undefined ? opaque.key(explicitCache) : explicit !== undefined && typeof explicit !== "string" ? `${repo}+cache` : `${repo}-cache`;
        const imagePath = explicit !== undefined ? ["registry", "repositories", spec.name] : ["images", i, "name"];
        claimRepository(repo, `image ${show(spec.name)}'s repository`, imagePath);
        if (cacheOn) {
            claimRepository(cacheRepo, `image ${show(spec.name)}'s cache repository`, explicitCache !== undefined ? ["registry", "cacheRepositories", spec.name] : imagePath);
        }
        const platforms = spec.platforms ?? familyPlatforms;
        for (const variant of variantsOf(spec, variantNames)) {
            const key = `${spec.name}${variantSuffix(variant)}`;
            const vpath = variant === "" ? imagePath : ["variants", variant];
            for (const p of platforms) {
                const arch = archOf(p as Platform);
                planned.push({ repository: repo, tag: platformTag(HASH, variant, arch), owner: `the ${p} build of ${show(key)}`, path: vpath, group: `build ${variant}` });
                if (cacheOn) {
                    for (const b of [branch, ...fallbacks.filter((f) => f !== branch)]) {
                        const foreign = b !== branch;
                        if (!foreign && !(args.cache?.write ?? true)) {
                            continue;
                        }
                        planned.push({
                            repository: cacheRepo,
                            tag: cacheTag(branchSlug(b, fallbacks), variant, arch),
                            owner: `branch ${show(b)}'s ${p} cache of ${show(key)}`,
                            path: foreign ? ["cache", "fallbackBranches", fallbacks.indexOf(b)] : ["git", "branch"],
                            foreign,
                            group: `cache ${b} ${variant}`,
                        });
                    }
                }
            }
            if (push) {
                const tags = tagNames(args.git.sha, variant, environment, args.tags?.release);
                planned.push({ repository: repo, tag: `index-${HASH}${variantSuffix(variant)}`, owner: `the index of ${show(key)}`, path: vpath, group: `content ${variant}` });
                planned.push({ repository: repo, tag: tags.immutable, owner: `the commit tag of ${show(key)}`, path: vpath, group: `index ${variant}` });
                tags.aliases.forEach((alias, n) => planned.push({
                    repository: repo,
                    tag: alias,
                    owner: `the ${n === 0 && environment !== "" ? "environment" : "release"} alias of ${show(key)}`,
                    path: n === 0 && environment !== "" ? ["tags", "environment"] : ["tags", "release"],
                    group: `alias ${n} ${variant}`,
                }));
            }
        }
    });

    // A registry refuses tags over 128 characters or with other characters.
    const reported = new Set<string>();
    for (const t of planned) {
        const tag = t.tag.replace(HASH, "0".repeat(12));
        if ((tag.length > MAX_TAG || !TAG_RE.test(tag)) && !reported.has(tag)) {
            reported.add(tag);
            issues.push({ path: t.path, message: `${t.owner} would be tagged ${show(t.tag)}, ${tag.length > MAX_TAG ? `${tag.length} characters; tags hold at most ${MAX_TAG}` : "which is not a valid tag"} (shorten the names that make it up)` });
        }
    }

    // Two entries in one repository with the same tag (or a plain tag a per-platform tag could take).
    const clashes = new Map<string, { issue: { path: readonly PropertyKey[]; message: string }; more: number }>();
    const clash = (x: Planned, y: Planned, tag: string, repo: string) => {
        if (x.foreign && y.foreign && x.group.split(" ")[1] === y.group.split(" ")[1]) {
            return; // one fallback branch's own refs
        }
        const blame = x.foreign && !y.foreign ? y : x;
        const other = blame === x ? y : x;
        const id = `${blame.group}|${other.group}`;
        const seen = clashes.get(id);
        if (seen !== undefined) {
            seen.more++;
            return;
        }
        clashes.set(id, {
            more: 0,
            issue: {
                path: blame.path,
                message: `${blame.owner} and ${other.owner} both push tag ${show(tag)} in ${show(repo)}; ` +
                    "the second would replace the first; rename one (variant, branch, environment or release)",
            },
        });
    };
    const byRepo = new Map<string, { plain: Map<string, Planned[]>; templates: Planned[] }>();
    for (const t of planned) {
        const r = byRepo.get(t.repository) ?? { plain: new Map<string, Planned[]>(), templates: [] };
        byRepo.set(t.repository, r);
        if (t.tag.includes(HASH)) {
            r.templates.push(t);
        } else {
            const same = r.plain.get(t.tag) ?? [];
            same.forEach((u) => clash(u, t, t.tag, t.repository));
            r.plain.set(t.tag, [...same, t]);
        }
    }
    for (const [repo, r] of byRepo) {
        for (const template of r.templates) {
            for (const [tag, owners] of r.plain) {
                if (templateMatches(template.tag, tag)) {
                    owners.forEach((u) => clash(template, u, tag, repo));
                }
            }
        }
    }
    for (const { issue, more } of clashes.values()) {
        issues.push(more === 0 ? issue : { ...issue, message: `${issue.message} (and ${more} more ${more === 1 ? "tag" : "tags"} the same way, for other images or platforms)` });
    }
    return issues;
}
