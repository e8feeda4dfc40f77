// The Args of the delivery module's components, apart from their code, so schema.ts
// checks them without importing a component (and @pulumi/aws or @pulumi/github with it).
import * as pulumi from "@pulumi/pulumi";
import type { VerificationPolicy, VerifyingMaterial } from "../supplychain";
import type { AttestedBuildView } from "../supplychain/checks";

/** One GitHub environment and the AWS role its deploy jobs assume. */
export interface DeliveryEnvironment {
    /** Environment name, normally the stack name; it is part of the role's `sub`. Required. */
    readonly name: string;
    /** Required reviewers as GitHub user and team IDs (numbers, at most 6 in all). Default: none; a protected environment needs at least one. */
    readonly reviewers?: {
        /** GitHub user IDs. Default: none. */
        readonly users?: readonly number[];
        /** GitHub team IDs. Default: none. */
        readonly teams?: readonly number[];
    };
    /** Branches allowed to deploy here. Default: any branch, except `["main"]` for a protected environment. */
    readonly branches?: readonly string[];
    /**
     * Managed policies of the deploy role. Default: `AdministratorAccess`, since a
     * stack creates IAM roles and instance profiles; what guards it is the trust
     * policy (only this environment's jobs) and the environment's reviewers. Narrow it here.
     */
    readonly policyArns?: readonly pulumi.Input<string>[];
}

/** How `GithubDelivery` gets GitHub's OIDC provider in AWS: create it, look it up, or use the one given. */
export type OidcProviderChoice = "create" | "lookup" | {
    /** ARN of an existing provider for `token.actions.githubusercontent.com`. Required. */
    readonly arn: pulumi.Input<string>;
};

/** Arguments of `GithubDelivery`. */
export interface GithubDeliveryArgs {
    /** `OWNER/REPO`, spelled exactly as on GitHub (IAM compares `sub` case-sensitively). Required. */
    readonly repository: string;
    /**
     * GitHub's OIDC provider in AWS: `create` it, `lookup` the account's existing one
     * (an account has at most one per URL, so only one stack may create it), or
     * `{ arn }` of an existing one. Default: `create`.
     */
    readonly oidcProvider?: OidcProviderChoice;
    /** Environments this stack manages (GitHub environment, deploy role, variables). Default: none. */
    readonly environments?: readonly DeliveryEnvironment[];
    /** Environments that must have reviewers and a branch policy. Default: `["prod"]`. */
    readonly protectedEnvironments?: readonly string[];
    /** Declare the pull-request preview role and the repository-wide Actions variables. Default: `true`. */
    readonly preview?: boolean;
    /** Cache repositories the preview role reads. Default: every `*-cache` repository of the account in `region`. */
    readonly cacheRepositoryArns?: pulumi.Input<pulumi.Input<string>[]>;
    /** State backend URL, published as `PULUMI_BACKEND_URL`; for `s3://` the preview role may read the state. Default: none; required when `preview` is on. */
    readonly stateBackendUrl?: string;
    /** KMS key ARN of the stacks' secrets provider (`awskms://`); the preview role may decrypt with it. Default: none. */
    readonly secretsKeyArn?: pulumi.Input<string>;
    /** Region published as `AWS_REGION`. Default: the AWS provider's region. */
    readonly region?: pulumi.Input<string>;
    /** Token for the GitHub provider (repository admin). Default: config `github:token`, then `GITHUB_TOKEN`. */
    readonly githubToken?: pulumi.Input<string>;
}

/** One image (of one variant) to promote. */
export interface PromotedImage {
    /** Image name; selects the target repository. Required. */
    readonly image: string;
    /** Variant name; tags get `-<variant>`. Default: the default variant (`""`). */
    readonly variant?: string;
}

/** Arguments of `Promotion`. */
export interface PromotionArgs {
    /** What to promote. Required, at least one. */
    readonly images: readonly PromotedImage[];
    /**
     * Source ref per image key (`image` or `image-variant`), each `repo:tag@sha256:…`,
     * e.g. `new StackImageRefs("org/imagefleet/staging").refs`. Required.
     */
    readonly sources: pulumi.Input<Record<string, pulumi.Input<string>>>;
    /** Where the source refs came from, for error messages (e.g. the stack name). Default: `"the source"`. */
    readonly sourceName?: string;
    /** Target repository per image name (e.g. `EcrRegistry.repositories`). Required for every image. */
    readonly repositories: Readonly<Record<string, pulumi.Input<string>>>;
    /** Credentials for the target registry (which must also be able to read the sources). Default: none. */
    readonly registry?: {
        /** Registry host. Required. */
        readonly address: pulumi.Input<string>;
        /** Username. Default: none. */
        readonly username?: pulumi.Input<string>;
        /** Password or token; kept a secret. Default: none (no credentials are passed). */
        readonly password?: pulumi.Input<string>;
    };
    /** The moving tag. Default: the stack name. Empty string: no moving tag. */
    readonly environment?: string;
    /** A semver release published as `v<release>`. Default: none. */
    readonly release?: string;
    /**
     * Leave promoted manifests in the registry when Pulumi deletes or replaces
     * their indexes (every new SHA replaces them). The provider deletes by
     * digest, which would take the previous release and every other tag of
     * that digest with it. Lifecycle rules, not Pulumi, expire images. Default: `true`.
     */
    readonly retainOnDelete?: boolean;
    /**
     * Verify every source with cosign before any tag is written: a signature
     * from `key` on the index digest, a SLSA provenance naming the expected
     * source repository and (for each platform) an expected builder, and an
     * SBOM. One failure fails the update naming the image and the check, and
     * no index of this promotion is written. Default: none (no verification).
     */
    readonly verify?: PromotionVerify;
}

/** What `Promotion.verify` checks sources against. */
export interface PromotionVerify {
    /** The source stack's key: `{ publicKey: "<PEM>" }` or `{ keyRef: "awskms:///<arn or alias>" }`. Required. */
    readonly key: pulumi.Input<VerifyingMaterial>;
    /** Source repository and builders the provenance must name. Required. */
    readonly policy: pulumi.Input<VerificationPolicy>;
    /**
     * The builders whose hosts attest their own builds, by buildx builder
     * name, with the key this stack trusts for each (`awskms://…` or a PEM
     * public key). A platform the source stack says its host attests is
     * verified against this key only: a provenance signed by the source
     * stack's own key, or by another fleet's, does not pass. Default: none.
     */
    readonly builderKeys?: pulumi.Input<Record<string, VerifyingMaterial>>;
    /**
     * What the source stack recorded for the builds its hosts attest (its
     * `supplychain.attestedBy` output): per image key and platform, the
     * builder, digest, Dockerfile sha256, build args and target the host's
     * provenance must match. Default: none (every platform is checked
     * against `key`).
     */
    readonly attested?: pulumi.Input<Record<string, Record<string, AttestedBuildView>>>;
    /** Seconds to wait for a host's attestations, which it signs after the push. Default: 600. */
    readonly waitSeconds?: number;
}
