import * as pulumi from "@pulumi/pulumi";
import * as aws from "@pulumi/aws";
import { archOf, DEFAULT_PLATFORMS } from "../images/platforms";
import { RegistrySpec } from "../images/types";
import { cacheRepositoryRules, imageRepositoryRules, policyDocument } from "./lifecycle";
import type { EcrRegistryArgs } from "./types";
import { validateEcrRegistry } from "./validate";

/** Environments whose repositories are protected unless `protect` says otherwise. */
export const PROTECTED_ENVIRONMENTS: readonly string[] = ["prod", "production"];

/** The resource options protection adds; a pure function so the defaults are testable on their own. */
export function protectionFor(environment: string, protect?: boolean): { protect: boolean; retainOnDelete: boolean } {
    const on = protect ?? PROTECTED_ENVIRONMENTS.includes(environment);
    return { protect: on, retainOnDelete: on };
}

export { validateEcrRegistry };

/**
 * ECR repositories for an image family: one image repository and one cache
 * repository per image, scanned on push, encrypted, with lifecycle rules that
 * clean caches but never expire a tagged image (SHA, environment or release).
 * In prod they are protected. Credentials come from ECR's authorization token
 * and stay secret.
 */
export class EcrRegistry extends pulumi.ComponentResource {
    /**
     * Image repository URL per image name. A plain map (of outputs) so it can be
     * an ImageFamily's `registry.repositories`: the family checks its keys
     * before anything resolves.
     */
    public readonly repositories: Readonly<Record<string, pulumi.Output<string>>>;
    /** Cache repository URL per image name; fits `registry.cacheRepositories`. */
    public readonly cacheRepositories: Readonly<Record<string, pulumi.Output<string>>>;
    /** ARNs of the image repositories (for IAM policies). */
    public readonly imageRepositoryArns: pulumi.Output<string[]>;
    /** ARNs of the cache repositories (for IAM policies). */
    public readonly cacheRepositoryArns: pulumi.Output<string[]>;
    /** Image and cache repository ARNs, one output each (e.g. a builder fleet's role takes `Input<string>[]`). */
    public readonly allRepositoryArns: pulumi.Output<string>[];
    /** Registry host, `<account>.dkr.ecr.<region>.amazonaws.com`. */
    public readonly address: pulumi.Output<string>;
    /** Username for the registry (`AWS`). */
    public readonly username: pulumi.Output<string>;
    /** Registry password from ECR's authorization token; a secret. Valid for 12 hours, fetched on every run. */
    public readonly password: pulumi.Output<string>;
    /** Whether the repositories were declared with `protect` and `retainOnDelete`. */
    public readonly isProtected: boolean;

    constructor(name: string, args: EcrRegistryArgs, opts?: pulumi.ComponentResourceOptions) {
        validateEcrRegistry(name, args);
        super("imagefleet:registry:EcrRegistry", name, {}, opts);

        const environment = args.environment ?? pulumi.getStack();
        const prefix = args.prefix ?? `imagefleet/${pulumi.getStack()}`;
        const protection = protectionFor(environment, args.protect);
        const encryption = args.encryption ?? "AES256";
        const common = {
            imageTagMutability: "MUTABLE", // environment tags move and cache tags are rewritten
            imageScanningConfiguration: { scanOnPush: args.scanOnPush ?? true },
            encryptionConfigurations: [{ encryptionType: encryption, kmsKey: encryption === "KMS" ? args.kmsKey : undefined }],
            forceDelete: false,
            tags: { "imagefleet:environment": environment, ...args.tags },
        };
        const repoOpts: pulumi.CustomResourceOptions = { parent: this, ...protection };

        const imagePolicy = imageRepositoryRules({ untaggedExpiryDays: args.untaggedImageExpiryDays });
        const cachePolicy = cacheRepositoryRules({
            keepBranches: args.keepCacheBranches ?? ["main"],
            archs: (args.platforms ?? DEFAULT_PLATFORMS).map(archOf),
            staleAfterDays: args.cacheExpiryDays ?? 14,
            untaggedExpiryDays: args.untaggedCacheExpiryDays ?? 1,
        });

        const repositories: Record<string, pulumi.Output<string>> = {};
        const cacheRepositories: Record<string, pulumi.Output<string>> = {};
        const imageArns: pulumi.Output<string>[] = [];
        const cacheArns: pulumi.Output<string>[] = [];
        for (const image of args.images) {
            const repo = new aws.ecr.Repository(`${name}-${image}`, { name: `${prefix}/${image}`, ...common }, repoOpts);
            const cache = new aws.ecr.Repository(`${name}-${image}-cache`, { name: `${prefix}/${image}-cache`, ...common }, repoOpts);
            if (imagePolicy.length > 0) {
                new aws.ecr.LifecyclePolicy(`${name}-${image}`, { repository: repo.name, policy: policyDocument(imagePolicy) }, { parent: this });
            }
            new aws.ecr.LifecyclePolicy(`${name}-${image}-cache`, { repository: cache.name, policy: policyDocument(cachePolicy) }, { parent: this });
            repositories[image] = repo.repositoryUrl;
            cacheRepositories[image] = cache.repositoryUrl;
            imageArns.push(repo.arn);
            cacheArns.push(cache.arn);
        }

        const token = aws.ecr.getAuthorizationTokenOutput({}, { parent: this });
        this.repositories = repositories;
        this.cacheRepositories = cacheRepositories;
        this.imageRepositoryArns = pulumi.all(imageArns);
        this.cacheRepositoryArns = pulumi.all(cacheArns);
        this.allRepositoryArns = [...imageArns, ...cacheArns];
        this.address = repositories[args.images[0]].apply((url) => url.split("/")[0]);
        this.username = token.userName;
        this.password = pulumi.secret(token.password);
        this.isProtected = protection.protect;
        this.registerOutputs({
            repositories: this.repositories,
            cacheRepositories: this.cacheRepositories,
            imageRepositoryArns: this.imageRepositoryArns,
            cacheRepositoryArns: this.cacheRepositoryArns,
            address: this.address,
            username: this.username,
            password: this.password,
        });
    }

    /** The registry as an ImageFamily (or Promotion) takes it. */
    registrySpec(): RegistrySpec {
        return {
            address: this.address,
            username: this.username,
            password: this.password,
            repositories: this.repositories,
            cacheRepositories: this.cacheRepositories,
        };
    }
}
