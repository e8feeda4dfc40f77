import * as pulumi from "@pulumi/pulumi";
import * as aws from "@pulumi/aws";
import * as github from "@pulumi/github";
import type { GithubDeliveryArgs, OidcProviderChoice } from "./types";
import { validateDelivery } from "./validate";
import { environmentSubject, GITHUB_OIDC_URL, githubTrustPolicy, previewPolicy, pullRequestSubject, STS_AUDIENCE } from "./policies";

export { validateDelivery };

/**
 * GitHub Actions → AWS without stored keys: GitHub's OIDC provider, a
 * read-only preview role that pull requests assume, a deploy role per
 * environment that only jobs of that GitHub environment can assume, the
 * environments themselves (reviewers, branch policy) and the Actions
 * variables the workflows read (`AWS_ROLE_ARN`, `AWS_PREVIEW_ROLE_ARN`,
 * `AWS_REGION`, `PULUMI_BACKEND_URL`).
 */
export class GithubDelivery extends pulumi.ComponentResource {
    /** ARN of GitHub's OIDC provider the roles trust (created, looked up or given). */
    public readonly oidcProviderArn: pulumi.Output<string>;
    /** The preview role's ARN; undefined when `preview` is off. */
    public readonly previewRoleArn?: pulumi.Output<string>;
    /** Deploy role ARN per environment. */
    public readonly deployRoleArns: pulumi.Output<Record<string, string>>;

    constructor(name: string, args: GithubDeliveryArgs, opts?: pulumi.ComponentResourceOptions) {
        validateDelivery(name, args);
        super("imagefleet:delivery:GithubDelivery", name, {}, opts);

        const [owner, repo] = args.repository.split("/");
        const protectedEnvs = args.protectedEnvironments ?? ["prod"];
        const partition = aws.getPartitionOutput({}, { parent: this }).partition;
        const region = args.region ?? aws.getRegionOutput({}, { parent: this }).region;
        const token = args.githubToken ?? new pulumi.Config("github").getSecret("token");
        // Explicit, so the owner is the repository's whatever `github:owner` says.
        const gh = new github.Provider(`${name}-github`, { owner, token: token === undefined ? undefined : pulumi.secret(token) }, { parent: this });
        const ghOpts = { parent: this, provider: gh };

        this.oidcProviderArn = this.oidcProvider(name, args.oidcProvider ?? "create");
        const trust = (subject: string) => this.oidcProviderArn.apply((arn) => JSON.stringify(githubTrustPolicy(arn, subject)));

        if (args.preview ?? true) {
            const role = new aws.iam.Role(`${name}-preview`, {
                description: `Pulumi previews of ${args.repository} pull requests: read-only, never pushes images`,
                assumeRolePolicy: trust(pullRequestSubject(args.repository)),
                maxSessionDuration: 3600,
            }, { parent: this });
            new aws.iam.RolePolicyAttachment(`${name}-preview-readonly`, {
                role: role.name,
                policyArn: pulumi.interpolate`arn:${partition}:iam::aws:policy/ReadOnlyAccess`,
            }, { parent: this });
            const account = aws.getCallerIdentityOutput({}, { parent: this }).accountId;
            const caches = args.cacheRepositoryArns ?? [pulumi.interpolate`arn:${partition}:ecr:${region}:${account}:repository/*-cache`];
            new aws.iam.RolePolicy(`${name}-preview`, {
                role: role.name,
                policy: pulumi.all([partition, caches, args.secretsKeyArn]).apply(([part, arns, key]) => JSON.stringify(previewPolicy({
                    partition: part, cacheRepositoryArns: arns, stateBackendUrl: args.stateBackendUrl, secretsKeyArn: key,
                }))),
            }, { parent: this });
            this.previewRoleArn = role.arn;
            const vars: Record<string, pulumi.Input<string>> = {
                AWS_PREVIEW_ROLE_ARN: role.arn,
                AWS_REGION: region,
                PULUMI_BACKEND_URL: args.stateBackendUrl!,
            };
            for (const [variableName, value] of Object.entries(vars)) {
                new github.ActionsVariable(`${name}-${variableName.toLowerCase().replace(/_/g, "-")}`, { repository: repo, variableName, value }, ghOpts);
            }
        }

        const deployRoles: Record<string, pulumi.Output<string>> = {};
        for (const env of args.environments ?? []) {
            const isProtected = protectedEnvs.includes(env.name);
            const role = new aws.iam.Role(`${name}-deploy-${env.name}`, {
                description: `pulumi up of ${args.repository} in GitHub environment ${env.name}`,
                assumeRolePolicy: trust(environmentSubject(args.repository, env.name)),
                maxSessionDuration: 3600,
            }, { parent: this });
            const policyArns = env.policyArns ?? [pulumi.interpolate`arn:${partition}:iam::aws:policy/AdministratorAccess`];
            policyArns.forEach((policyArn, i) => new aws.iam.RolePolicyAttachment(`${name}-deploy-${env.name}-${i}`, { role: role.name, policyArn }, { parent: this }));

            const branches = env.branches ?? (isProtected ? ["main"] : undefined);
            const environment = new github.RepositoryEnvironment(`${name}-${env.name}`, {
                repository: repo,
                environment: env.name,
                reviewers: env.reviewers ? [{ users: [...(env.reviewers.users ?? [])], teams: [...(env.reviewers.teams ?? [])] }] : undefined,
                preventSelfReview: isProtected,
                canAdminsBypass: !isProtected,
                deploymentBranchPolicy: branches ? { protectedBranches: false, customBranchPolicies: true } : undefined,
            }, ghOpts);
            (branches ?? []).forEach((branchPattern) => new github.RepositoryEnvironmentDeploymentPolicy(`${name}-${env.name}-${branchPattern.replace(/[^A-Za-z0-9._-]/g, "-")}`, {
                repository: repo, environment: environment.environment, branchPattern,
            }, ghOpts));
            const envVars: Record<string, pulumi.Input<string>> = { AWS_ROLE_ARN: role.arn, AWS_REGION: region };
            for (const [variableName, value] of Object.entries(envVars)) {
                new github.ActionsEnvironmentVariable(`${name}-${env.name}-${variableName.toLowerCase().replace(/_/g, "-")}`, {
                    repository: repo, environment: environment.environment, variableName, value,
                }, ghOpts);
            }
            deployRoles[env.name] = role.arn;
        }
        this.deployRoleArns = pulumi.output(deployRoles);
        this.registerOutputs({ oidcProviderArn: this.oidcProviderArn, previewRoleArn: this.previewRoleArn, deployRoleArns: this.deployRoleArns });
    }

    private oidcProvider(name: string, choice: OidcProviderChoice): pulumi.Output<string> {
        if (choice === "lookup") {
            return aws.iam.getOpenIdConnectProviderOutput({ url: GITHUB_OIDC_URL }, { parent: this }).arn;
        }
        if (typeof choice === "object") {
            return pulumi.output(choice.arn);
        }
        // No thumbprints: AWS validates GitHub's certificate against its own trusted CAs.
        return new aws.iam.OpenIdConnectProvider(`${name}-github-oidc`, {
            url: GITHUB_OIDC_URL,
            clientIdLists: [STS_AUDIENCE],
        }, { parent: this }).arn;
    }
}
