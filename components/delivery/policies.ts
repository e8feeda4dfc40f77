/**
 * IAM policy documents for GitHub Actions roles, as pure functions of plain
 * values so the exact conditions and actions are testable without AWS.
 */

export const GITHUB_OIDC_HOST = "token.actions.githubusercontent.com";
export const GITHUB_OIDC_URL = `https://${GITHUB_OIDC_HOST}`;
/** The audience `aws-actions/configure-aws-credentials` requests by default. */
export const STS_AUDIENCE = "sts.amazonaws.com";

/** The `sub` claim of a workflow run for a pull request (no environment on the job). */
export const pullRequestSubject = (repository: string): string => `repo:${repository}:pull_request`;
/** The `sub` claim of a job that declares `environment: <name>`. */
export const environmentSubject = (repository: string, environment: string): string => `repo:${repository}:environment:${environment}`;

/** Actions that write images; the preview role is denied them on every repository. */
export const ECR_WRITE_ACTIONS: readonly string[] = [
    "ecr:PutImage",
    "ecr:InitiateLayerUpload",
    "ecr:UploadLayerPart",
    "ecr:CompleteLayerUpload",
    "ecr:BatchDeleteImage",
    "ecr:PutImageTagMutability",
    "ecr:DeleteRepository",
];

/** Reading images and layers: what `cacheFrom` needs. */
export const ECR_READ_ACTIONS: readonly string[] = [
    "ecr:BatchGetImage",
    "ecr:GetDownloadUrlForLayer",
    "ecr:BatchCheckLayerAvailability",
    "ecr:DescribeImages",
];

export interface PolicyDocument {
    readonly Version: "2012-10-17";
    readonly Statement: readonly Statement[];
}

export interface Statement {
    readonly Sid?: string;
    readonly Effect: "Allow" | "Deny";
    readonly Principal?: Record<string, string>;
    readonly Action: string | readonly string[];
    readonly Resource?: string | readonly string[];
    readonly Condition?: Record<string, Record<string, string>>;
}

/**
 * Trust for one exact subject: `StringEquals` on both `aud` and `sub`, never
 * `StringLike`, so no wildcard widens who can assume the role (a `*` in a
 * `sub` pattern is how forks and other branches get in).
 */
export function githubTrustPolicy(providerArn: string, subject: string): PolicyDocument {
    return {
        Version: "2012-10-17",
        Statement: [{
            Effect: "Allow",
            Principal: { Federated: providerArn },
            Action: "sts:AssumeRoleWithWebIdentity",
            Condition: {
                StringEquals: {
                    [`${GITHUB_OIDC_HOST}:aud`]: STS_AUDIENCE,
                    [`${GITHUB_OIDC_HOST}:sub`]: subject,
                },
            },
        }],
    };
}

/** Bucket and key prefix of an `s3://bucket/prefix?query` backend URL; undefined for other backends. */
export function s3Backend(url: string): { bucket: string; prefix: string } | undefined {
    const m = /^s3:\/\/([^/?]+)\/?([^?]*)/.exec(url);
    if (!m) {
        return undefined;
    }
    const prefix = m[2].replace(/\/+$/, "");
    return { bucket: m[1], prefix: prefix === "" ? "" : `${prefix}/` };
}

export interface PreviewPolicyOptions {
    readonly partition: string;
    /** Cache repositories the preview may read. */
    readonly cacheRepositoryArns: readonly string[];
    /** The state backend URL; for `s3://` the bucket is readable and lock files writable. */
    readonly stateBackendUrl?: string;
    /** KMS key of the secrets provider; previews decrypt config with it. */
    readonly secretsKeyArn?: string;
}

/**
 * What a pull request's preview may do besides AWS's ReadOnlyAccess: read the
 * caches, read the state, decrypt secrets. An explicit Deny of image writes
 * on every repository (images and caches: a pull request never writes main's
 * cache) wins over any Allow, whatever managed policy is attached later.
 */
export function previewPolicy(o: PreviewPolicyOptions): PolicyDocument {
    const statements: Statement[] = [
        { Sid: "ReadCaches", Effect: "Allow", Action: [...ECR_READ_ACTIONS], Resource: [...o.cacheRepositoryArns] },
        // GetAuthorizationToken has no resource-level permissions.
        { Sid: "RegistryLogin", Effect: "Allow", Action: "ecr:GetAuthorizationToken", Resource: "*" },
    ];
    const s3 = o.stateBackendUrl ? s3Backend(o.stateBackendUrl) : undefined;
    if (s3) {
        const bucket = `arn:${o.partition}:s3:::${s3.bucket}`;
        statements.push(
            { Sid: "ReadState", Effect: "Allow", Action: ["s3:GetObject", "s3:ListBucket", "s3:GetBucketLocation"], Resource: [bucket, `${bucket}/${s3.prefix}*`] },
            // The only writes: the backend's lock files, so previews work with locking on.
            { Sid: "StateLocks", Effect: "Allow", Action: ["s3:PutObject", "s3:DeleteObject"], Resource: `${bucket}/${s3.prefix}.pulumi/locks/*` },
        );
    }
    if (o.secretsKeyArn) {
        statements.push({ Sid: "DecryptSecrets", Effect: "Allow", Action: "kms:Decrypt", Resource: o.secretsKeyArn });
    }
    statements.push({ Sid: "NeverPush", Effect: "Deny", Action: [...ECR_WRITE_ACTIONS], Resource: "*" });
    return { Version: "2012-10-17", Statement: statements };
}
