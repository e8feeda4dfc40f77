import { z } from "zod";
import { hint, matching } from "../schema";
import { branchName, buildArgs, imageSpec, plainBuilderPool, platform, platformList, registryAddress, release, sha } from "../images/schema";
import { NAME_RE } from "../images/schema";
import { fleetConfig } from "../builders/schema";
import { ecrRegistryArgs, kmsKeyArn } from "../registry/schema";
import { deliveryConfig, stackName } from "../delivery/schema";
import { supplyChainConfig } from "../supplychain/schema";

/**
 * One schema per config key of the project (`imagefleet:<key>`), with how the
 * engine hands the value over, its default and its description. The docs
 * (docs/config.md) and Pulumi.yaml's descriptions are generated from this
 * table (`npm run docs:config`), and a unit test fails when they drift.
 */
export interface ConfigKey {
    /** What a valid value is. */
    readonly schema: z.ZodType;
    /**
     * How the engine's string becomes the value: `string` as is, `boolean`
     * from "true"/"false", `json` parsed (objects and lists; a YAML scalar
     * arrives as a plain string and is checked as one).
     */
    readonly decode: "string" | "boolean" | "json";
    /** What the key does (docs, Pulumi.yaml). */
    readonly description: string;
    /** The default as the docs show it; undefined for a required key. */
    readonly default?: string;
    /** Pulumi.yaml's typed default (the engine hands it to the program). Unset: `""`, which means unset. */
    readonly projectDefault?: string | boolean | readonly string[];
    /** Set with `pulumi config set --secret`. */
    readonly secret?: boolean;
    /** A value shown in the docs. */
    readonly example?: string;
}

const plainRegistry = hint(z.strictObject({
    address: registryAddress,
    namespace: matching(/^[a-z0-9]+(?:[._/-][a-z0-9]+)*$/, 'a repository path such as "team" or "team/dev" (lowercase letters, digits, separators . _ - /)').optional(),
    username: hint(z.string().min(1), "a user name").optional(),
    password: hint(z.never({ error: "put the password in the secret key imagefleet:registryPassword (pulumi config set --secret registryPassword …), not in plain config" }),
        "never here: the password goes in the secret key imagefleet:registryPassword").optional(),
}), '{"address": "host[:port]", "namespace": "path", "username": "user"}');

const variants = hint(z.record(z.string(), buildArgs).superRefine((map, ctx) => {
    for (const k of Object.keys(map)) {
        if (!NAME_RE.test(k)) {
            ctx.addIssue({ code: "custom", path: [k], input: k, message: `${JSON.stringify(k)} is not a variant name: lowercase letters, digits, '.', '_' or '-', starting with a letter or digit, at most 63` });
        }
    }
}), 'a map of variant name to build args, e.g. {"perf": {"PROFILE": "performance"}}');

/** `imagefleet:ecr`: EcrRegistry's settings a stack file holds (the program sets images, platforms and environment). */
export const ecrConfig = ecrRegistryArgs.pick({
    prefix: true, encryption: true, scanOnPush: true, keepCacheBranches: true, cacheExpiryDays: true,
    untaggedCacheExpiryDays: true, untaggedImageExpiryDays: true, protect: true, tags: true,
}).extend({ kmsKey: kmsKeyArn.optional() });

export const REGISTRY_KINDS = ["static", "ecr", "ghcr"] as const;

export const CONFIG_KEYS = {
    registry: {
        schema: plainRegistry,
        decode: "json",
        description: "Registry to push to. Its password goes in the secret key registryPassword.",
        example: '{"address": "registry.localhost:5000", "namespace": "imagefleet"}',
    },
    registryPassword: {
        schema: z.string(),
        decode: "string",
        secret: true,
        default: "none",
        description: "Password or token of the registry (pulumi config set --secret registryPassword …).",
    },
    platforms: {
        schema: platformList,
        decode: "json",
        default: '["linux/amd64", "linux/arm64"]',
        projectDefault: ["linux/amd64", "linux/arm64"],
        description: "Target platforms; each is built natively on its own builder.",
    },
    builders: {
        schema: hint(z.partialRecord(platform, plainBuilderPool),
            'a map of platform to a buildx builder name or a pool of them, e.g. {"linux/amd64": ["ci-amd64-a", "ci-amd64-b"]}'),
        decode: "json",
        default: "none (required for every platform without a fleet)",
        description: "buildx builders per platform: a name, or a pool (a list of names) over which the platform's builds are spread by hashing each image and variant onto one builder. Platforms of imagefleet:fleet need none; a list given for one replaces the fleet's pool (e.g. to take a dead host out).",
        example: '{"linux/amd64": ["imagefleet-local-amd64", "imagefleet-local-amd64-1"], "linux/arm64": "imagefleet-local-arm64"}',
    },
    gitBranch: {
        schema: branchName,
        decode: "string",
        default: "from CI variables, then git",
        description: "Branch the build is for (decides the cache ref written). A name git refuses is an error, not rewritten.",
    },
    gitSha: {
        schema: sha,
        decode: "string",
        default: "from CI variables, then git",
        description: "Commit SHA (the immutable tag).",
    },
    fallbackBranches: {
        schema: hint(z.array(branchName), 'a list of branch names, e.g. ["main"]'),
        decode: "json",
        default: '["main"]',
        projectDefault: ["main"],
        description: "Branches whose cache is read after the current branch's.",
    },
    deployBranch: {
        schema: branchName,
        decode: "string",
        default: "a pull request's target branch from the CI (GITHUB_BASE_REF, CI_MERGE_REQUEST_TARGET_BRANCH_NAME, BUILDKITE_PULL_REQUEST_BASE_BRANCH, SYSTEM_PULLREQUEST_TARGETBRANCH), else the first of fallbackBranches (main)",
        description: "The branch whose `pulumi up` deploys this stack. A pull request's preview (no build; the CI names a pull request's target branch, or cacheWrite is false) declares the builds with this branch's cache refs, as the deploy after merging would, so it shows only what merging changes.",
    },
    checks: {
        schema: hint(z.enum(["warn", "error", "off"]), '"warn", "error" or "off"'),
        decode: "string",
        default: "warn",
        projectDefault: "warn",
        description: "BuildKit's Dockerfile checks (docker buildx build --check), run offline for every build: \"warn\" logs each finding, \"error\" fails the preview or up naming the image and the rule, \"off\" skips them.",
    },
    cacheWrite: {
        schema: z.boolean(),
        decode: "boolean",
        default: "true",
        projectDefault: true,
        description: "Write the current branch's cache ref; previews of pull requests set false.",
    },
    variants: {
        schema: variants,
        decode: "json",
        default: "none",
        description: "Build variants: {\"name\": {\"ARG\": \"value\"}}; each gets its own tags and cache refs. A name may not be a platform arch or end in -<arch>.",
    },
    buildArgs: {
        schema: buildArgs,
        decode: "json",
        default: "none",
        description: "Build args for every image, e.g. base image mirrors: {\"BASE_IMAGE\": \"...\"}.",
    },
    images: {
        schema: hint(z.array(imageSpec).min(1), "a non-empty list of images"),
        decode: "json",
        default: "the example family",
        description: "A family to build instead of the example family: a list of images ({\"name\", \"kind\", \"context\", \"dockerfile\", \"target\", \"buildArgs\", \"from\", \"variants\", \"platforms\"}).",
    },
    artifactSource: {
        schema: hint(z.enum(["image", "local"]), '"image" or "local"'),
        decode: "string",
        default: '"image"',
        projectDefault: "image",
        description: "The example family's runtime takes its artifact from the artifact image (\"image\") or a local directory (\"local\"). Not used with imagefleet:images.",
    },
    localArtifactDir: {
        schema: hint(z.string().min(1), "a directory"),
        decode: "string",
        default: "none",
        description: "Directory with artifact/bin/hello when artifactSource is \"local\".",
    },
    release: {
        schema: release,
        decode: "string",
        default: "none",
        description: "Semver release published as tag v<release> (no build metadata: tags cannot hold '+').",
    },
    push: {
        schema: z.boolean(),
        decode: "boolean",
        default: "true",
        projectDefault: true,
        description: "Push images and indexes.",
    },
    buildOnPreview: {
        schema: z.boolean(),
        decode: "boolean",
        default: "false",
        projectDefault: false,
        description: "Build during pulumi preview (never pushes).",
    },
    fleet: {
        schema: hint(fleetConfig, "an object (BuilderFleet arguments)"),
        decode: "json",
        default: "none (local and prod have no fleet)",
        description: "Native BuildKit hosts on EC2 that build this stack's platforms (BuilderFleet arguments: vpcId, subnetIds, allowedCidrs, nodes, spot, cacheVolumeGiB, gc, idleStopMinutes, buildkitVersion, buildkitReleaseUrl, port, publicEndpoint, allowPublicIngress, repositoryArns, keyName, certValidityHours, tags). Its platforms need no imagefleet:builders entry.",
    },
    registryKind: {
        schema: hint(z.enum(REGISTRY_KINDS), '"static", "ecr" or "ghcr"'),
        decode: "string",
        default: '"static"',
        projectDefault: "static",
        description: "\"static\" (imagefleet:registry as given), \"ecr\" (this stack creates ECR repositories <namespace>/<stack>/<image> and <image>-cache) or \"ghcr\" (ghcr.io/<namespace>, token in registryPassword).",
    },
    ecr: {
        schema: hint(ecrConfig, "an object (EcrRegistry settings)"),
        decode: "json",
        default: "{}",
        description: "ECR settings when registryKind is \"ecr\": prefix, encryption, kmsKey, scanOnPush, keepCacheBranches, cacheExpiryDays, untaggedCacheExpiryDays, untaggedImageExpiryDays, protect, tags.",
    },
    promoteFrom: {
        schema: stackName,
        decode: "string",
        default: "none (the stack builds)",
        description: "Stack whose images this stack promotes by digest instead of building, e.g. \"organization/imagefleet/staging\".",
    },
    delivery: {
        schema: hint(deliveryConfig, "an object (GithubDelivery settings)"),
        decode: "json",
        default: "none",
        description: "GitHub Actions wiring (GithubDelivery arguments: repository, oidcProvider, preview, stateBackendUrl, secretsKeyArn, region, protectedEnvironments, environments).",
    },
    supplychain: {
        schema: supplyChainConfig,
        decode: "json",
        default: "none (no signing, no verification)",
        description: "Signed supply chain (components/supplychain). \"signing\" on a building stack: an SPDX SBOM and a SLSA v1 provenance per published digest and a cosign signature per index, with a generated key pair kept as secrets (\"generate\", local) or an AWS KMS key this stack declares (\"kms\": only the deploy roles and signerArns may sign). \"verify\" on a promoting stack: every source is verified before a tag moves; with \"builderKeys\", what the source's hosts attested is verified against the host keys this stack trusts, waiting up to \"waitSeconds\" (default 600) for them.",
        example: '{"sourceRepository": "https://github.com/example-org/imagefleet", "signing": "generate"}',
    },
} as const satisfies Record<string, ConfigKey>;

export type ConfigKeyName = keyof typeof CONFIG_KEYS;
export const CONFIG_KEY_NAMES = Object.keys(CONFIG_KEYS) as ConfigKeyName[];
