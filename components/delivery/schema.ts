import { z } from "zod";
import { hint, input, matching, wholeNumber } from "../schema";
import { imageName, registrySpec, release, repository } from "../images/schema";
import { ecrRepositoryArn } from "../builders/schema";
import { kmsKeyArn } from "../registry/schema";
import { DeliveryEnvironment, GithubDeliveryArgs, PromotionArgs } from "./types";
import type { AttestedBuildView } from "../supplychain/checks";

/** The schemas of GithubDeliveryArgs, PromotionArgs and StackImageRefs' arguments; rules across fields are in validate.ts. */

export const githubRepository = matching(/^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})\/[A-Za-z0-9._-]{1,100}$/, '"OWNER/REPO"');
export const environmentName = matching(/^[A-Za-z0-9._-]{1,255}$/, "a valid environment name (letters, digits, '.', '_', '-')");
const githubId = (what: string) => wholeNumber(1, Number.MAX_SAFE_INTEGER, `a GitHub ${what} ID (a positive whole number, not a login: gh api users/<login> --jq .id)`);
const oidcProviderArn = matching(/^arn:aws(?:-cn|-us-gov)?:iam::\d{12}:oidc-provider\/token\.actions\.githubusercontent\.com$/,
    'the ARN of GitHub\'s OIDC provider, "arn:aws:iam::<account>:oidc-provider/token.actions.githubusercontent.com"');
const policyArn = matching(/^arn:aws(?:-cn|-us-gov)?:iam::(?:aws|\d{12}):policy\/[\w+=,.@/-]+$/, 'an IAM policy ARN such as "arn:aws:iam::aws:policy/PowerUserAccess"');
const awsRegion = matching(/^[a-z]{2}(?:-gov|-iso[a-z]*)?-[a-z]+-\d+$/, 'an AWS region such as "eu-west-1"');
const backendUrl = matching(/^(?:s3|gs|azblob|https?|file):\/\/\S+$/, 'a Pulumi state backend URL such as "s3://my-state-bucket/imagefleet?region=eu-west-1"');

export const deliveryEnvironment = hint(z.strictObject({
    name: environmentName,
    reviewers: hint(z.strictObject({
        users: z.array(githubId("user")).optional(),
        teams: z.array(githubId("team")).optional(),
    }), '{"users": [<id>], "teams": [<id>]}').optional(),
    branches: hint(z.array(hint(z.string().min(1), "a branch name or pattern")).min(1), "a non-empty list of branch names or patterns").optional(),
    policyArns: hint(z.array(input(policyArn)), "a list of IAM policy ARNs").optional(),
}), 'an environment: {"name": "prod", "reviewers": {...}, "branches": [...], "policyArns": [...]}');

export const oidcProviderChoice = hint(z.union([z.literal("create"), z.literal("lookup"), z.strictObject({ arn: input(oidcProviderArn) })]),
    '"create", "lookup" or {"arn": "arn:aws:iam::…:oidc-provider/token.actions.githubusercontent.com"}');

export const githubDeliveryArgs = z.strictObject({
    repository: githubRepository,
    oidcProvider: oidcProviderChoice.optional(),
    environments: hint(z.array(deliveryEnvironment), "a list of environments").optional(),
    protectedEnvironments: hint(z.array(environmentName), "a list of environment names").optional(),
    preview: z.boolean().optional(),
    cacheRepositoryArns: input(z.array(input(ecrRepositoryArn))).optional(),
    stateBackendUrl: backendUrl.optional(),
    secretsKeyArn: input(kmsKeyArn).optional(),
    region: input(awsRegion).optional(),
    githubToken: input(hint(z.string().min(1), "a GitHub token")).optional(),
});

/** `imagefleet:delivery`: the delivery arguments with plain values, without the token and the cache ARNs the program derives. */
export const deliveryConfig = githubDeliveryArgs.omit({ cacheRepositoryArns: true, githubToken: true });

export const promotionArgs = z.strictObject({
    images: hint(z.array(hint(z.strictObject({
        image: imageName,
        variant: z.union([z.literal(""), matching(/^[a-z0-9][a-z0-9._-]{0,62}$/, "a variant name")]).optional(),
    }), '{"image": "<name>", "variant": "<variant>"}')).min(1), "a non-empty list of images to promote"),
    sources: input(z.record(z.string(), input(hint(z.string(), "a ref repo:tag@sha256:…")))),
    sourceName: hint(z.string().min(1), "a name for messages").optional(),
    repositories: hint(z.record(z.string(), input(repository)), "a map of image name to repository"),
    // A RegistrySpec (e.g. EcrRegistry.registrySpec()) is what a program has at hand; its repositories are ignored here.
    registry: registrySpec.optional(),
    environment: hint(z.string(), "an environment name").optional(),
    release: release.optional(),
    retainOnDelete: z.boolean().optional(),
    verify: hint(z.strictObject({
        key: input(hint(z.strictObject({ publicKey: z.string().min(1).optional(), keyRef: z.string().min(1).optional() }), '{"publicKey": "<PEM>"} or {"keyRef": "awskms:///…"}')),
        policy: input(hint(z.strictObject({ sourceRepository: z.string().min(1), builders: z.array(z.string().min(1)).min(1) }), '{"sourceRepository": "https://…", "builders": ["<builder>", …]}')),
        builderKeys: input(hint(z.record(z.string().min(1), z.strictObject({ publicKey: z.string().min(1).optional(), keyRef: z.string().min(1).optional() })),
            '{"<builder>": {"publicKey": "<PEM>"} or {"keyRef": "awskms:///…"}}')).optional(),
        // The source stack's own output, read at run time: its shape is checked where it is used.
        attested: input(hint(z.custom<Record<string, Record<string, AttestedBuildView>>>((v) => typeof v === "object" && v !== null), "the source stack's supplychain.attestedBy")).optional(),
        waitSeconds: hint(z.number().int().min(0).max(3600), "whole seconds from 0 to 3600").optional(),
    }), "what every source is verified against before a tag moves").optional(),
});

/** `org/project/stack`, `project/stack` or `stack`, as `pulumi stack select` takes them. */
export const stackName = matching(/^[A-Za-z0-9_.-]+(?:\/[A-Za-z0-9_.-]+){0,2}$/, 'a stack name such as "organization/imagefleet/staging"');

export const stackImageRefsOptions = z.strictObject({
    output: hint(z.string().min(1), "a stack output name").optional(),
    opts: hint(z.custom<object>((v) => typeof v === "object" && v !== null), "resource options").optional(),
});

type SameKeys<A, B> = [Exclude<keyof A, keyof B>, Exclude<keyof B, keyof A>] extends [never, never] ? true : never;
const _deliveryKeys: SameKeys<z.infer<typeof githubDeliveryArgs>, GithubDeliveryArgs> = true;
const _envKeys: SameKeys<z.infer<typeof deliveryEnvironment>, DeliveryEnvironment> = true;
const _promotionKeys: SameKeys<z.infer<typeof promotionArgs>, PromotionArgs> = true;
const _deliveryType: z.ZodType<GithubDeliveryArgs> = githubDeliveryArgs;
const _promotionType: z.ZodType<PromotionArgs> = promotionArgs;
void [_deliveryKeys, _envKeys, _promotionKeys, _deliveryType, _promotionType];
