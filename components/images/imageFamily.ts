import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import * as dockerbuild from "@pulumi/docker-build";
import { BuilderCheck, fingerprintOf } from "../builders/builderCheck";
import { warnDeadBuilders } from "../builders/preflight";
import { PlannedImage, planImages } from "./buildPlan";
import { ContextReport, reportContexts } from "./contexts/report";
import { topoOrder } from "./graph";
import { pullRequestBase } from "./git";
import { declarePlatformBuild, NamedSource } from "./platformBuild";
import { buildKey, memberFor, PoolMember, poolMembers } from "./pool";
import { archOf, DEFAULT_PLATFORMS, Platform } from "./platforms";
import { branchSlug, indexTag, tagNames, variantsOf, variantSuffix } from "./policy";
import { TagSet } from "./tagSet";
import { ContextStager, DEFAULT_STAGE_DIR, RefusedBuild } from "./contexts/stager";
import { StagedContext } from "./contexts/stage";
import { DockerfileChecks } from "./contexts/frontend";
import { ImageFamilyArgs } from "./types";
import { familyWarnings, validateFamily } from "./validate";
import { namedOnFailure } from "./buildFailure";
import { CheckFinding, checksOf, enforceChecks } from "./checks";
import { formatRecord, InputsRecord, logReview, parseRecord, recordOf, review, ReviewRow } from "./review";
import { Problems } from "../errors";

/** One image of one variant: its per-platform builds and the index joining them. */
export interface FamilyImage {
    /** Image name. */
    readonly image: string;
    /** Variant name; `""` for the default variant. */
    readonly variant: string;
    /** Repository the image is pushed to. */
    readonly repository: pulumi.Output<string>;
    /** The per-platform builds, each pushed under `build-<inputs12>[-variant]-<arch>` (see `platformTag`). */
    readonly builds: Readonly<Partial<Record<Platform, dockerbuild.Image>>>;
    /** The multi-platform index, tagged `index-<digests12>[-variant]` by what it holds; undefined when `push` is off. */
    readonly index?: dockerbuild.Index;
    /** The commit's tags of this image, all pointing at `index`: `<sha12>[-variant]`, then the environment and release aliases. */
    readonly tags: readonly string[];
    /** Per platform, the staged build context: the files the build reads, and its Dockerfile. */
    readonly staged: Readonly<Partial<Record<Platform, StagedContext>>>;
    /** Per platform, BuildKit's Dockerfile checks of the build (what `docker buildx build --check` reports). */
    readonly checks: Readonly<Partial<Record<Platform, DockerfileChecks>>>;
    /** Per platform, the builder of the platform's pool that builds it (the name; an Output for a lone Output builder). */
    readonly builders: Readonly<Partial<Record<Platform, pulumi.Input<string>>>>;
}

/** Key used in outputs: the image name, plus `-<variant>` for a named variant. */
export function imageKey(image: string, variant: string): string {
    return `${image}${variantSuffix(variant)}`;
}

/**
 * A family of images (dev-env → artifact → runtime). Each image is built once
 * per platform on that platform's own builder, with a per-branch registry cache,
 * then joined into one multi-platform index per image. A dependency between
 * images is a named build context pinned to the digest of the same platform's
 * build, so a runtime image always contains the exact artifact that was built.
 */
export class ImageFamily extends pulumi.ComponentResource {
    /** Multi-platform ref (`repo:tag@sha256:…`) per image key (`image[-variant]`). */
    public readonly refs: pulumi.Output<Record<string, string>>;
    /** Per-platform refs per image key: `{ runtime: { "linux/amd64": "repo:tag@sha256:…" } }`. */
    public readonly platformRefs: pulumi.Output<Record<string, Record<string, string>>>;
    /** Every image of every variant, in build order. */
    public readonly images: readonly FamilyImage[];
    /** Each image's build context after its ignore file (files, bytes, largest directories, warnings), by image name. */
    public readonly contexts: Readonly<Record<string, ContextReport>>;
    /** BuildKit's Dockerfile checks per image key, each finding once with the platforms it was found on. */
    public readonly checks: Readonly<Record<string, readonly CheckFinding[]>>;
    /**
     * What each build was built from (JSON, compact): export it as a stack
     * output and give it back as `previousRecord` on the next run to get a
     * review of what that run changes.
     */
    public readonly record: pulumi.Output<string>;
    /** Per image key, whether this run rebuilds it, only moves its tags, or leaves it, and why; empty without `previousRecord`. */
    public readonly review: pulumi.Output<ReviewRow[]>;
    /** Per platform, per builder of its pool, the image keys it builds: `{ "linux/amd64": { "ci-amd64-a": ["api", "worker"] } }`. */
    public readonly placement: pulumi.Output<Record<string, Record<string, string[]>>>;

    constructor(name: string, args: ImageFamilyArgs, opts?: pulumi.ComponentResourceOptions) {
        validateFamily(name, args);
        super("imagefleet:images:ImageFamily", name, {}, opts);
        for (const warning of familyWarnings(name, args)) {
            void pulumi.log.warn(warning, this);
        }

        const platforms = args.platforms ?? DEFAULT_PLATFORMS;
        const variantNames = Object.keys(args.variants ?? {});
        const fallbacks = args.cache?.fallbackBranches ?? ["main"];
        const buildOnPreview = args.buildOnPreview ?? false;
        // A pull request's preview (it builds nothing) declares every build
        // as the deploy of this stack would, with the deploy branch's cache
        // refs: they are unused until a build runs, and the preview then shows
        // only what merging changes, whatever branch it runs from. A preview is
        // a pull request's when the CI says so (pullRequestBase) or when it
        // writes no cache (`cache.write: false`, the setting of before). Any
        // other run declares its own branch's.
        const pr = pullRequestBase();
        const asDeploy = pulumi.runtime.isDryRun() && !buildOnPreview && (!(args.cache?.write ?? true) || pr !== undefined);
        const branch = asDeploy ? args.cache?.deployBranch ?? pr?.branch ?? fallbacks[0] ?? args.git.branch : args.git.branch;
        const slug = branchSlug(branch, fallbacks);
        const environment = args.tags?.environment ?? pulumi.getStack();
        const push = args.push ?? true;
        const registryAuth = registryCredentials(args);
        const childOpts: pulumi.CustomResourceOptions = { parent: this, retainOnDelete: args.retainOnDelete ?? true };
        const cacheOn = !(args.cache?.disabled ?? false);
        // The branch's own ref first, then each fallback's: the same for every build.
        const readSlugs = [slug, ...fallbacks.map((f) => branchSlug(f, fallbacks)).filter((s) => s !== slug)];
        const byName = new Map(args.images.map((i) => [i.name, i]));
        const order = (topoOrder(args.images) as { order: string[] }).order;
        const stager = new ContextStager(path.join(args.stageDir ?? DEFAULT_STAGE_DIR, pulumi.getStack(), name), args.baseDir,
            args.sourceDateEpoch ?? 0);
        const readFrom = cacheOn ? readSlugs : [];
        const writeTo = cacheOn && (asDeploy || (args.cache?.write ?? true)) ? slug : undefined;
        const { images: plan, refused } = planImages({
            order: order.map((n) => byName.get(n)!), familyPlatforms: platforms,
            variantsOf: (spec) => variantsOf(spec, variantNames), variants: args.variants ?? {},
            familyBuildArgs: args.buildArgs ?? {}, sourceDateEpoch: args.sourceDateEpoch ?? 0, stager,
            shared: { readFrom, writeTo, push, buildOnPreview },
        });
        refuseBuilds(name, args, refused);
        this.checks = checksOf(args, plan);
        enforceChecks(this, name, args, this.checks, (key) => args.images.indexOf(plan.find((p) => p.key === key)!.spec));
        stager.pruneStale();
        const pools = Object.fromEntries(platforms.map((p) => [p, poolMembers(args.builders[p])])) as Partial<Record<Platform, PoolMember[]>>;
        // Each per-platform build on one builder of its platform's pool, by its image and variant.
        const assigned = (p: PlannedImage, platform: Platform) => memberFor(buildKey(p.spec.name, p.variant), pools[platform]!);
        const used = [...new Set(plan.flatMap((p) => p.platforms))];
        const down = warnDeadBuilders(`ImageFamily ${JSON.stringify(name)}`, used.flatMap((platform) => pools[platform]!.map((m) => ({ platform, builder: m.builder }))));
        const record = recordOf(plan, (p) => tagNames(args.git.sha, p.variant, environment).immutable,
            (p) => path.join(p.spec.context, p.spec.dockerfile ?? "Dockerfile"), (p, platform) => assigned(p, platform).name);
        const checks = this.builderChecks(name, args, plan, pools, assigned, down, record);

        const built = new Map<string, FamilyImage>();
        // Each build's ref and digest as what depends on it reads them (namedOnFailure).
        const outputsOf = new Map<string, Partial<Record<Platform, { ref: pulumi.Output<string>; digest: pulumi.Output<string> }>>>();
        for (const p of plan) {
            const repository = repositoryOf(args, p.spec.name);
            const builds: Partial<Record<Platform, dockerbuild.Image>> = {};
            const read: Partial<Record<Platform, { ref: pulumi.Output<string>; digest: pulumi.Output<string> }>> = {};
            const builders: Partial<Record<Platform, pulumi.Input<string>>> = {};
            for (const platform of p.platforms) {
                const member = assigned(p, platform);
                // The name itself when known: the build waits for its builder's check anyway.
                builders[platform] = member.name ?? member.builder;
                const named: Record<string, NamedSource> = Object.fromEntries(p.deps.map((d) => [d.context, "local" in d
                    ? { kind: "local" as const, staged: d.local[platform]! }
                    : { kind: "image" as const, repository: built.get(d.image)!.repository, digest: outputsOf.get(d.image)![platform]!.digest }]));
                builds[platform] = declarePlatformBuild(`${name}-${p.key}-${archOf(platform)}`, {
                    image: p.spec.name, kind: p.spec.kind, variant: p.variant, platform,
                    builder: builders[platform]!,
                    repository, cacheRepository: cacheRepositoryOf(args, p.spec.name),
                    staged: p.staged[platform]!, target: p.spec.target, buildArgs: p.buildArgs, named,
                    readSlugs: readFrom, writeSlug: writeTo,
                    push, registryAuth, buildOnPreview,
                }, { ...childOpts, dependsOn: [checks.get(checkKey(platform, assigned(p, platform)))!] });
                const pool = pools[platform]!;
                read[platform] = namedOnFailure(builds[platform]!, {
                    subject: `ImageFamily ${JSON.stringify(name)}`, stack: pulumi.getStack(), resource: `${name}-${p.key}-${archOf(platform)}`,
                    key: p.key, platform, builder: builders[platform]!, pool: pool.length > 1 ? pool.map((m) => m.name!) : [],
                }, this);
            }
            outputsOf.set(p.key, read);

            const tags = tagNames(args.git.sha, p.variant, environment, args.tags?.release);
            let index: dockerbuild.Index | undefined;
            if (push) {
                // The multi-platform index, tagged by what it holds: it is
                // pushed again only when one of its builds changes. The
                // commit's tags are the family's TagSet, below.
                const digests = p.platforms.map((pl) => read[pl]!.digest);
                index = new dockerbuild.Index(`${name}-${p.key}`, {
                    tag: pulumi.all([repository, ...digests]).apply(([repo, ...ds]) => `${repo}:${indexTag(ds, p.variant)}`),
                    sources: p.platforms.map((pl) => read[pl]!.ref),
                    push: true,
                    registry: registryAuth,
                }, childOpts);
            }
            built.set(p.key, {
                image: p.spec.name, variant: p.variant, repository: pulumi.output(repository), builds, index,
                tags: [tags.immutable, ...tags.aliases], staged: p.staged, checks: p.lint, builders,
            });
        }

        this.images = [...built.values()];
        this.contexts = reportContexts(this, this.images, args.contextLimits);
        // Every tag of this commit, of every image, in one resource (the
        // commit tag, the environment and release aliases): a commit that
        // builds nothing moves them at registry speed.
        const published = this.images.filter((i) => i.index);
        const pairs = pulumi.all(published.map((i) => pulumi.all([i.repository, i.index!.ref])));
        const tagSet = published.length === 0 ? undefined : new TagSet(`${name}-tags`, {
            tags: pairs.apply((ps) => Object.fromEntries(ps.flatMap(([repo, ref], n) =>
                published[n].tags.map((t) => [`${repo}:${t}`, `${repo}@${digestOf(ref)}`])))),
            registry: registryAuth && pulumi.secret(pulumi.output(registryAuth).apply((a) => ({ address: String(a.address), username: a.username, password: a.password }))),
        }, childOpts);
        // `repo:<sha12>@sha256:…`, once that tag is published.
        this.refs = tagSet === undefined ? pulumi.output({} as Record<string, string>) : pulumi.all([tagSet.tags, pairs]).apply(([, ps]) => Object.fromEntries(
            ps.map(([repo, ref], n) => [imageKey(published[n].image, published[n].variant), `${repo}:${published[n].tags[0]}@${digestOf(ref)}`])));
        this.platformRefs = pulumi.output(Object.fromEntries(this.images.map((i) => [
            imageKey(i.image, i.variant),
            Object.fromEntries(Object.keys(i.builds).map((p) => [p, outputsOf.get(imageKey(i.image, i.variant))![p as Platform]!.ref])),
        ])));
        this.record = pulumi.output(formatRecord(record));
        this.review = pulumi.output(args.previousRecord).apply((previous) => {
            const parsed = parseRecord(previous);
            return parsed === undefined && previous === undefined ? [] : review(parsed, record);
        });
        this.review.apply((rows) => logReview(this, name, rows, this.checks));
        this.placement = pulumi.all(this.images.flatMap((i) => Object.entries(i.builders).map(([platform, b]) =>
            pulumi.all([platform, b!, imageKey(i.image, i.variant)])))).apply((rows) => {
            const out: Record<string, Record<string, string[]>> = {};
            for (const [platform, builder, key] of rows) {
                ((out[platform] ??= {})[builder] ??= []).push(key);
            }
            return out;
        });
        this.registerOutputs({ refs: this.refs, platformRefs: this.platformRefs, contexts: this.contexts, checks: this.checks, record: this.record, review: this.review, placement: this.placement });
    }

    /**
     * One BuilderCheck per builder that has builds, keyed on the fingerprints
     * of the builds assigned to it: the engine checks a builder only when one
     * of its builds is about to run, and only its builds wait for it, so a
     * dead builder of a pool stops its own share and no other.
     */
    private builderChecks(name: string, args: ImageFamilyArgs, plan: readonly PlannedImage[], pools: Partial<Record<Platform, PoolMember[]>>,
        assigned: (p: PlannedImage, platform: Platform) => PoolMember, down: pulumi.Output<Readonly<Record<string, string>>>,
        record: InputsRecord): Map<string, BuilderCheck> {
        const checks = new Map<string, BuilderCheck>();
        for (const platform of [...new Set(plan.flatMap((p) => p.platforms))]) {
            const pool = pools[platform]!;
            for (const member of pool) {
                const mine = plan.filter((p) => p.platforms.includes(platform) && assigned(p, platform) === member);
                if (mine.length === 0) {
                    continue;
                }
                const single = pool.length === 1;
                const repositories = [...new Set((single ? plan : mine).map((p) => p.spec.name))].map((image) => [repositoryOf(args, image), cacheRepositoryOf(args, image)]);
                // A pool of one keeps the name and fingerprint a family's check had
                // before pools, so an upgrade does not make it run (and need its builder).
                const suffix = single ? "" : `-${member.name}`;
                const fingerprint = single
                    ? fingerprintOf([plan.map((p) => p.fingerprints[platform] ?? null), repositories])
                    : fingerprintOf([mine.map((p) => [p.key, p.fingerprints[platform]]), repositories]);
                checks.set(checkKey(platform, member), new BuilderCheck(`${name}-builder-${archOf(platform)}${suffix}`, {
                    subject: `ImageFamily ${JSON.stringify(name)}`,
                    stack: pulumi.getStack(),
                    platform,
                    builder: member.builder,
                    pool: single ? [] : pool.map((m) => m.name!),
                    builds: mine.map((p) => `${name}-${p.key}-${archOf(platform)}`),
                    fingerprint,
                    // A dead builder is checked again when one of its builds differs from the last
                    // successful run's record: the check passed, then the builder died mid-build.
                    recheck: pulumi.all([down, pulumi.output(member.builder), pulumi.output(args.previousRecord)]).apply(([dead, builder, previous]) => {
                        const reason = dead[builder.toLowerCase()] ?? "";
                        const before = parseRecord(previous);
                        const pending = before !== undefined && mine.some((p) => before[p.key]?.[platform]?.f !== record[p.key]?.[platform]?.f);
                        return pending ? reason : "";
                    }),
                }, { parent: this }));
            }
        }
        return checks;
    }

    /** The built image (of a variant) by name; throws with the valid names when absent. */
    image(name: string, variant = ""): FamilyImage {
        const found = this.images.find((i) => i.image === name && i.variant === variant);
        if (!found) {
            const valid = this.images.map((i) => imageKey(i.image, i.variant)).join(", ");
            throw new Error(`ImageFamily: no image ${JSON.stringify(imageKey(name, variant))}; valid: ${valid}`);
        }
        return found;
    }
}

/** A builder of a platform's pool, as the checks are keyed. */
function checkKey(platform: Platform, member: PoolMember): string {
    return `${platform}\u0000${member.name ?? ""}`;
}

/** Builds BuildKit's Dockerfile frontend refused: one ValidationError naming each image, platform and the frontend's words, before anything is declared. */
function refuseBuilds(name: string, args: ImageFamilyArgs, refused: readonly RefusedBuild[]): void {
    const problems = new Problems();
    const seen = new Set<string>();
    for (const r of refused) {
        const i = args.images.indexOf(r.spec);
        const dockerfile = path.join(r.spec.context, r.spec.dockerfile ?? "Dockerfile");
        // The key path leads so every problem line names where to fix it; a bad build arg (say, one used in FROM) shows up here too.
        const line = `images[${i}].dockerfile: image ${JSON.stringify(r.spec.name)}: BuildKit's Dockerfile frontend refused ${dockerfile}${r.spec.target ? ` (target ${JSON.stringify(r.spec.target)})` : ""}: ${r.error}${/\$\{?\w|ARG|stage name|reference format/.test(r.error) ? ` (check the build args: buildArgs, images[${i}].buildArgs)` : ""}`;
        if (!seen.has(line)) {
            seen.add(line);
            problems.add(`${line} (for ${r.platform})`);
        }
    }
    problems.throwIfAny(`ImageFamily ${JSON.stringify(name)}`, pulumi.getStack());
}

/** The digest of a `repo:tag@sha256:…` ref. */
function digestOf(ref: string): string {
    return ref.slice(ref.lastIndexOf("@") + 1);
}

function repositoryOf(args: ImageFamilyArgs, image: string): pulumi.Input<string> {
    const explicit = args.registry.repositories?.[image];
    if (explicit !== undefined) {
        return explicit;
    }
    const ns = args.registry.namespace ? `${args.registry.namespace}/` : "";
    return pulumi.interpolate`${args.registry.address}/${ns}${image}`;
}

function cacheRepositoryOf(args: ImageFamilyArgs, image: string): pulumi.Input<string> {
    return args.registry.cacheRepositories?.[image] ?? pulumi.interpolate`${repositoryOf(args, image)}-cache`;
}

function registryCredentials(args: ImageFamilyArgs): dockerbuild.types.input.RegistryArgs | undefined {
    const { address, username, password } = args.registry;
    if (password === undefined) {
        return undefined;
    }
    return { address, username, password: pulumi.secret(password) };
}
