// The Args of the registry module's components, apart from their code, so schema.ts
// checks them without importing a component (and @pulumi/aws with it).
import * as pulumi from "@pulumi/pulumi";
import { Platform } from "../images/platforms";

export type EcrEncryption = "AES256" | "KMS";

/** Arguments of `EcrRegistry`. */
export interface EcrRegistryArgs {
    /** Image names of the family; each gets an image repository and a cache repository. Required, at least one. */
    readonly images: readonly string[];
    /** Repository name prefix: repositories are `<prefix>/<image>` and `<prefix>/<image>-cache`. Default: `imagefleet/<stack>`. */
    readonly prefix?: string;
    /**
     * Encryption at rest: `AES256` (S3-managed keys) or `KMS`. Default: `AES256` — no key
     * policy to manage and no per-request KMS charges; choose `KMS` when a customer
     * managed key is required. ECR cannot change it after creation (replacement).
     */
    readonly encryption?: EcrEncryption;
    /** KMS key ARN when `encryption` is `KMS`. Default: ECR's AWS-managed key (`aws/ecr`). */
    readonly kmsKey?: pulumi.Input<string>;
    /** Scan every pushed image for vulnerabilities. Default: `true`. */
    readonly scanOnPush?: boolean;
    /** Platforms built; their archs name the cache tags that expire. Default: `["linux/amd64", "linux/arm64"]`. */
    readonly platforms?: readonly Platform[];
    /** Branches whose cache never expires (the family's fallback branches). Default: `["main"]`. */
    readonly keepCacheBranches?: readonly string[];
    /** Cache tags of other branches expire after this many days without a push. Default: `14`. */
    readonly cacheExpiryDays?: number;
    /** Superseded (untagged) cache manifests expire this many days after their push. Default: `1`. */
    readonly untaggedCacheExpiryDays?: number;
    /** Untagged manifests in image repositories expire this many days after their push. Default: never (see `imageRepositoryRules`). */
    readonly untaggedImageExpiryDays?: number;
    /** The environment; decides the default of `protect`. Default: the stack name. */
    readonly environment?: string;
    /**
     * Protect the repositories (`protect` and `retainOnDelete`): `pulumi destroy`
     * refuses, and removing them from the program leaves them in AWS. Default: `true`
     * when `environment` is `prod` or `production`, else `false`.
     */
    readonly protect?: boolean;
    /** Tags for every repository. Default: none. */
    readonly tags?: Readonly<Record<string, string>>;
}

/** Arguments of `ghcrRegistry`. */
export interface GhcrRegistryArgs {
    /** The GitHub user or organization that owns the packages. Required. */
    readonly owner: string;
    /** User the token belongs to (any non-empty name works for a GitHub App or Actions token). Required. */
    readonly username: pulumi.Input<string>;
    /** A token with `write:packages` (in Actions: `GITHUB_TOKEN` with `packages: write`). Required; kept a secret. */
    readonly token: pulumi.Input<string>;
}
