import * as pulumi from "@pulumi/pulumi";
import { ContextLimits } from "./contexts/report";
import { Platform } from "./platforms";

/** What an image is for; it decides defaults such as whether variants apply. */
export type ImageKind = "dev-env" | "artifact" | "runtime";

export const IMAGE_KINDS: readonly ImageKind[] = ["dev-env", "artifact", "runtime"];

/**
 * Where a named build context comes from: another image of the family (the
 * build of the same platform, pinned by digest) or a local directory
 * (StarRocks' `ARTIFACT_SOURCE=local`).
 */
export type FromSource = string | {
    /** Name of another image of the family. Required. */
    readonly image: string;
} | {
    /** Local directory, relative to the program's working directory (or `ImageFamilyArgs.baseDir`). Required. */
    readonly local: string;
};

/** One image of the family. */
export interface ImageSpec {
    /** Unique within the family; used in repository names, tags and resource names. Lowercase `[a-z0-9][a-z0-9._-]*`. Required. */
    readonly name: string;
    /** `dev-env` (toolchains), `artifact` (what was compiled) or `runtime` (what ships). Required. */
    readonly kind: ImageKind;
    /** Build context directory, relative to the program's working directory (or `ImageFamilyArgs.baseDir`). Required. */
    readonly context: string;
    /** Dockerfile path relative to `context`. Default: `Dockerfile`. */
    readonly dockerfile?: string;
    /** Build stage to build. Default: the last stage. */
    readonly target?: string;
    /** Build args for this image; they override the family's `buildArgs`. Default: none. */
    readonly buildArgs?: Readonly<Record<string, string>>;
    /**
     * Named build contexts taken from other images of the family or from local
     * directories: a list of image names (the context is named after the image),
     * or a map from context name to a source. Default: none.
     */
    readonly from?: readonly string[] | Readonly<Record<string, FromSource>>;
    /**
     * Whether the family's variants apply to this image (one build per variant).
     * Default: `true`, except for `dev-env` images, whose toolchain does not
     * depend on a build profile.
     */
    readonly variants?: boolean;
    /**
     * Platforms this image is built for: a subset of the family's `platforms`
     * (GraphScope ships some images for amd64 only). An image that takes
     * another as a context may only use platforms that image has.
     * Default: the family's `platforms`.
     */
    readonly platforms?: readonly Platform[];
}

/** Registry the family pushes to. */
export interface RegistrySpec {
    /** Registry host, e.g. `registry.localhost:5000` or `123456789012.dkr.ecr.eu-west-1.amazonaws.com`. Required. */
    readonly address: pulumi.Input<string>;
    /** Path between the address and the image name. Default: none (`<address>/<image>`). */
    readonly namespace?: string;
    /** Username for the registry. Default: none (anonymous, or credentials the builder already has). */
    readonly username?: pulumi.Input<string>;
    /** Password or token; kept a Pulumi secret. Default: none. */
    readonly password?: pulumi.Input<string>;
    /** Repository per image name, overriding `<address>/<namespace>/<image>` (e.g. ECR repository URLs). Default: derived. */
    readonly repositories?: Readonly<Record<string, pulumi.Input<string>>>;
    /** Cache repository per image name. Default: the image's repository with `-cache` appended. */
    readonly cacheRepositories?: Readonly<Record<string, pulumi.Input<string>>>;
}

/** Registry cache settings. */
export interface CacheSpec {
    /** Turn registry caching off entirely. Default: `false`. */
    readonly disabled?: boolean;
    /** Branches whose cache every build reads after its own. Default: `["main"]`. */
    readonly fallbackBranches?: readonly string[];
    /**
     * Write the current branch's cache ref. A preview with `false` is taken
     * for a pull request's (see `deployBranch`); a pull request's preview in
     * GitHub Actions, GitLab, Buildkite or Azure Pipelines needs no setting.
     * Default: `true`.
     */
    readonly write?: boolean;
    /**
     * The branch whose `pulumi up` deploys this stack. A pull request's
     * preview — one that builds nothing (`buildOnPreview` off), run where the
     * CI names a pull request's target branch (`GITHUB_BASE_REF`,
     * `CI_MERGE_REQUEST_TARGET_BRANCH_NAME`, `BUILDKITE_PULL_REQUEST_BASE_BRANCH`
     * in a pull request build, `SYSTEM_PULLREQUEST_TARGETBRANCH`) or with
     * `write: false` — declares every build with this branch's cache refs,
     * as the deploy after merging would: it then shows no change for an
     * image the pull request does not change, whatever branch it runs from.
     * Nothing is written during such a preview; an `up` uses `git.branch`
     * as always. Default: the pull request's target branch from the CI, else
     * the first of `fallbackBranches` (`main`).
     */
    readonly deployBranch?: string;
}

/** Which tags each image gets. */
export interface TagSpec {
    /** The moving tag, normally the environment (stack) name. Default: the stack name. Empty string: no moving tag. */
    readonly environment?: string;
    /** A semver release (e.g. `1.4.0`) published as tag `v1.4.0`. Default: none. */
    readonly release?: string;
}

/** The git commit the images are built from. */
export interface GitSpec {
    /** Branch name; decides the cache ref written. Required. */
    readonly branch: string;
    /** Commit SHA (at least 7 hex characters); the immutable tag uses its first 12. Required. */
    readonly sha: string;
}

/**
 * A builder of a pool whose name is known when the family is declared but
 * which exists only once `ready` resolves: a `BuilderFleet` host's buildx
 * registration. Its check, and so each of its builds, waits for `ready`.
 */
export interface PoolBuilder {
    /** buildx builder name; the pool hashes builds onto names. Required. */
    readonly name: string;
    /** Resolves once the builder is registered on this machine. Required. */
    readonly ready: pulumi.Input<unknown>;
}

/**
 * The builders of one platform: one buildx builder name, or a pool of them.
 * Each per-platform build goes to one builder of its pool by rendezvous
 * hashing of the image and variant: the same builder commit after commit,
 * the pool's builders used alike, and a builder added or removed moves only
 * the builds that go to it or came from it.
 */
export type BuilderPool = pulumi.Input<string> | readonly (string | PoolBuilder)[];

/** Arguments of `ImageFamily`. */
export interface ImageFamilyArgs {
    /** The images of the family. Required, at least one. */
    readonly images: readonly ImageSpec[];
    /** Target platforms; each built natively on its own builder. Default: `["linux/amd64", "linux/arm64"]`. */
    readonly platforms?: readonly Platform[];
    /**
     * buildx builders per platform: one name, or a pool (a list of names, or
     * a `BuilderFleet`'s `builders`) whose builders each take a share of the
     * platform's builds (see `BuilderPool`). Names in a list must be plain
     * strings, since they decide where each build goes; a lone name may be an
     * Output. Required for every platform in `platforms`.
     */
    readonly builders: Readonly<Partial<Record<Platform, BuilderPool>>>;
    /** Where images and caches are pushed. Required. */
    readonly registry: RegistrySpec;
    /** Commit the build is for. Required (see `resolveGit` for CI and `git` fallbacks). */
    readonly git: GitSpec;
    /** Build args applied to every image (e.g. base image mirrors). Default: none. */
    readonly buildArgs?: Readonly<Record<string, string>>;
    /**
     * Build variants: a name per set of build args (Velor's `performance` profile,
     * `failpoints` feature). Each variant gets its own tags and cache refs. Default:
     * one unnamed variant with no extra args.
     */
    readonly variants?: Readonly<Record<string, Readonly<Record<string, string>>>>;
    /** Registry cache settings. Default: registry cache on, fallback `main`, write on. */
    readonly cache?: CacheSpec;
    /** Tag settings. Default: SHA tag plus the stack name as moving tag. */
    readonly tags?: TagSpec;
    /** Push images and indexes. Default: `true`. */
    readonly push?: boolean;
    /** Build during `pulumi preview` (never pushes). Default: `false`, so previews stay fast and need no builder. */
    readonly buildOnPreview?: boolean;
    /**
     * Leave pushed images and indexes in the registry when Pulumi deletes or
     * replaces their resources. The docker-build provider deletes a manifest by
     * digest, which would also remove every other tag of that digest (an alias,
     * a release). Registry lifecycle rules, not Pulumi, expire images. Default: `true`.
     */
    readonly retainOnDelete?: boolean;
    /** Directory that relative contexts resolve against. Default: `process.cwd()`. */
    readonly baseDir?: string;
    /**
     * Where build contexts are staged: a copy of what `.dockerignore` admits,
     * with modes normalized (0644/0755) and mtimes set to `sourceDateEpoch`, so
     * a fresh clone (another path, umask, mtimes) is not a change. Relative to
     * the working directory. A copy no run of the family has used for 7 days
     * is removed. Default: `node_modules/.cache/imagefleet/contexts`.
     */
    readonly stageDir?: string;
    /**
     * SOURCE_DATE_EPOCH of every build (seconds): the image config's dates and,
     * through BuildKit's `rewrite-timestamp`, every file time in the layers, so
     * the same inputs build the same digest on any builder. It must not change
     * per commit, or every commit rebuilds everything. A build arg
     * `SOURCE_DATE_EPOCH` overrides it. Default: `0`.
     */
    readonly sourceDateEpoch?: number;
    /**
     * Sizes of an image's context (after its ignore file) above which the
     * family warns, naming the context's largest directories; every preview
     * and update reads the whole context. Each limit must be a positive
     * integer. Default: `{ maxBytes: 104857600, maxFiles: 20000 }` (100 MiB,
     * 20,000 files). A context that sends `.git` or `node_modules` warns at
     * any size.
     */
    readonly contextLimits?: ContextLimits;
    /**
     * BuildKit's Dockerfile checks (the rules `docker buildx build --check`
     * runs), run offline for every build in synth, preview and up: `warn` logs
     * each finding on the family, `error` also refuses the family (a preview
     * fails naming the image and the rule) before anything is declared, `off`
     * skips the report. `# check=skip=…` and `# check=error=true` in a
     * Dockerfile apply as BuildKit applies them. Default: `warn`.
     */
    readonly checks?: "warn" | "error" | "off";
    /**
     * The `record` output of this family's previous run, read back from the
     * stack (a StackReference to the stack itself). With it, the family
     * reviews what this run changes (`review`: rebuild, settings only, new
     * tags only or unchanged per image, and why) and logs the table in a preview.
     * Default: none (no review).
     */
    readonly previousRecord?: pulumi.Input<string | undefined>;
}
