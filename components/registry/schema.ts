import { z } from "zod";
import { checked, hint, input, matching, wholeNumber } from "../schema";
import { branchName, imageName, platform } from "../images/schema";
import { EcrRegistryArgs, GhcrRegistryArgs } from "./types";

/** The schemas of EcrRegistryArgs and GhcrRegistryArgs; rules across fields are in validate.ts. */

export const kmsKeyArn = matching(
    /^arn:aws(?:-cn|-us-gov)?:kms:[a-z0-9-]+:\d{12}:key\/(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32})$/,
    'a KMS key ARN such as "arn:aws:kms:eu-west-1:123456789012:key/0d6f1c2e-5b7a-4c1d-9e3f-2a8b7c6d5e4f"',
);
const days = (what: string) => wholeNumber(1, 3650, `a whole number of days (at least 1) ${what}`.trim());

export const ecrRegistryArgs = z.strictObject({
    images: hint(z.array(imageName).min(1), "a non-empty list of image names"),
    prefix: matching(/^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*\/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$/, 'a valid ECR repository path (lowercase, e.g. "imagefleet/prod")').optional(),
    encryption: hint(z.enum(["AES256", "KMS"]), '"AES256" or "KMS"').optional(),
    kmsKey: input(kmsKeyArn).optional(),
    scanOnPush: z.boolean().optional(),
    platforms: hint(z.array(platform), "a list of platforms").optional(),
    keepCacheBranches: hint(z.array(branchName), "a list of branch names").optional(),
    cacheExpiryDays: days("").optional(),
    untaggedCacheExpiryDays: days("").optional(),
    untaggedImageExpiryDays: days("").optional(),
    environment: hint(z.string().min(1), "an environment name").optional(),
    protect: z.boolean().optional(),
    tags: hint(z.record(z.string(), z.string()), "a map of tag name to string").optional(),
});

// GitHub logins: alphanumerics and single hyphens, not at either end, at most 39.
export const githubLogin = matching(/^[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}$/, "a GitHub user or organization name");

export const ghcrRegistryArgs = z.strictObject({
    owner: githubLogin,
    username: input(hint(z.string().min(1), "the account the token belongs to")),
    token: input(hint(z.string().min(1), "a token with write:packages; set it as a secret")),
});

type SameKeys<A, B> = [Exclude<keyof A, keyof B>, Exclude<keyof B, keyof A>] extends [never, never] ? true : never;
const _ecrKeys: SameKeys<z.infer<typeof ecrRegistryArgs>, EcrRegistryArgs> = true;
const _ghcrKeys: SameKeys<z.infer<typeof ghcrRegistryArgs>, GhcrRegistryArgs> = true;
const _ecrType: z.ZodType<EcrRegistryArgs> = ecrRegistryArgs;
const _ghcrType: z.ZodType<GhcrRegistryArgs> = ghcrRegistryArgs;
void [_ecrKeys, _ghcrKeys, _ecrType, _ghcrType, checked];
