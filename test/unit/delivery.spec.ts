import { strict as assert } from "assert";
import { ValidationError } from "../../components/errors";
import { ECR_WRITE_ACTIONS, GithubDelivery, GithubDeliveryArgs, previewPolicy, s3Backend } from "../../components/delivery";
import { evaluate, isSecret, Recorded } from "../../scripts/harness/mocks";
import { assertMentions, byName, plain, runStack } from "./helpers";

const ROLE = "aws:iam/role:Role";
const OIDC = "aws:iam/openIdConnectProvider:OpenIdConnectProvider";
const REPO = "Example-Org/imagefleet";
const BASE: GithubDeliveryArgs = {
    repository: REPO,
    stateBackendUrl: "s3://state-bucket/imagefleet?region=eu-west-1",
    secretsKeyArn: "arn:aws:kms:eu-west-1:123456789012:key/0d6f1c2e-5b7a-4c1d-9e3f-2a8b7c6d5e4f",
    environments: [{ name: "dev" }, { name: "staging" }, { name: "prod", reviewers: { users: [11], teams: [22] } }],
};

async function declare(args: Partial<GithubDeliveryArgs> = {}): Promise<Recorded[]> {
    return (await evaluate({ stack: "dev", program: () => new GithubDelivery("d", { ...BASE, ...args }) })).resources;
}

const trustOf = (r: Recorded) => JSON.parse(plain(r).assumeRolePolicy);
const ofType = (rs: Recorded[], type: string) => rs.filter((r) => r.type === type);
/** Every policy document attached to a role: inline policies and the ARNs of managed ones. */
function policiesOf(rs: Recorded[], role: string): { inline: any[]; managed: string[] } {
    return {
        inline: ofType(rs, "aws:iam/rolePolicy:RolePolicy").filter((p) => plain(p).role === role).map((p) => JSON.parse(plain(p).policy)),
        managed: ofType(rs, "aws:iam/rolePolicyAttachment:RolePolicyAttachment").filter((p) => plain(p).role === role).map((p) => plain(p).policyArn),
    };
}

/** IAM action patterns: `*` and `?` wildcards, case-insensitive. */
const covers = (pattern: string, action: string) =>
    new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".")}$`, "i").test(action);
const list = (x: string | string[]) => (Array.isArray(x) ? x : [x]);

describe("GithubDelivery", () => {
    it("trusts pull requests for the preview role with exactly aud and sub, StringEquals only", async () => {
        const rs = await declare();
        const provider = byName(rs, "d-github-oidc");
        assert.deepEqual(trustOf(byName(rs, "d-preview")), {
            Version: "2012-10-17",
            Statement: [{
                Effect: "Allow",
                Principal: { Federated: provider.state.arn },
                Action: "sts:AssumeRoleWithWebIdentity",
                Condition: {
                    StringEquals: {
                        "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
                        "token.actions.githubusercontent.com:sub": `repo:${REPO}:pull_request`,
                    },
                },
            }],
        });
    });

    it("gives each environment a deploy role that only that GitHub environment's jobs can assume", async () => {
        const rs = await declare();
        for (const env of ["dev", "staging", "prod"]) {
            const trust = trustOf(byName(rs, `d-deploy-${env}`));
            assert.equal(trust.Statement.length, 1);
            assert.deepEqual(trust.Statement[0].Condition, {
                StringEquals: {
                    "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
                    "token.actions.githubusercontent.com:sub": `repo:${REPO}:environment:${env}`,
                },
            });
        }
        assert.equal(ofType(rs, ROLE).length, 1 + 3);
        for (const role of ofType(rs, ROLE)) {
            const text = plain(role).assumeRolePolicy as string;
            assert.ok(!text.includes("StringLike") && !text.includes("*"), `${role.name} trust has a wildcard: ${text}`);
        }
    });

    it("never lets the preview role push or delete images: no Allow covers a write, an explicit Deny covers all", async () => {
        const rs = await declare();
        const { inline, managed } = policiesOf(rs, "d-preview");
        assert.deepEqual(managed, ["arn:aws:iam::aws:policy/ReadOnlyAccess"]);
        const statements = inline.flatMap((doc) => doc.Statement);
        for (const action of ["ecr:PutImage", "ecr:InitiateLayerUpload", "ecr:UploadLayerPart", "ecr:CompleteLayerUpload", "ecr:BatchDeleteImage"]) {
            const allows = statements.filter((s) => s.Effect === "Allow" && list(s.Action).some((a: string) => covers(a, action)));
            assert.deepEqual(allows, [], `${action} is allowed`);
            const denies = statements.filter((s) => s.Effect === "Deny" && list(s.Action).some((a: string) => covers(a, action)));
            assert.ok(denies.some((s) => list(s.Resource).includes("*")), `${action} is not denied on every repository`);
        }
        const read = statements.find((s) => s.Sid === "ReadCaches");
        assert.deepEqual(read.Resource, ["arn:aws:ecr:eu-west-1:123456789012:repository/*-cache"]);
        assert.ok(read.Action.includes("ecr:BatchGetImage") && read.Action.includes("ecr:GetDownloadUrlForLayer"));
    });

    it("lets the preview role read the state and decrypt secrets, writing only lock files", () => {
        assert.deepEqual(s3Backend("s3://bucket/a/b/?region=x"), { bucket: "bucket", prefix: "a/b/" });
        assert.deepEqual(s3Backend("s3://bucket"), { bucket: "bucket", prefix: "" });
        assert.equal(s3Backend("gs://bucket"), undefined);
        const doc = previewPolicy({ partition: "aws", cacheRepositoryArns: ["c"], stateBackendUrl: "s3://b/p?region=r", secretsKeyArn: "key" });
        const writes = doc.Statement.filter((s) => s.Effect === "Allow" && list(s.Action as string[]).some((a) => /Put|Delete|Upload|Create/.test(a)));
        assert.deepEqual(writes.map((s) => [s.Action, s.Resource]), [[["s3:PutObject", "s3:DeleteObject"], "arn:aws:s3:::b/p/.pulumi/locks/*"]]);
        assert.ok(doc.Statement.some((s) => s.Action === "kms:Decrypt" && s.Resource === "key"));
        assert.deepEqual(doc.Statement.at(-1), { Sid: "NeverPush", Effect: "Deny", Action: [...ECR_WRITE_ACTIONS], Resource: "*" });
    });

    it("creates GitHub's OIDC provider, or uses an existing one by lookup or ARN", async () => {
        const created = plain(byName(await declare(), "d-github-oidc"));
        assert.equal(created.url, "https://token.actions.githubusercontent.com");
        assert.deepEqual(created.clientIdLists, ["sts.amazonaws.com"]);
        const looked = await declare({ oidcProvider: "lookup" });
        assert.equal(ofType(looked, OIDC).length, 0);
        assert.equal(trustOf(byName(looked, "d-preview")).Statement[0].Principal.Federated, "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com");
        const arn = "arn:aws:iam::999999999999:oidc-provider/token.actions.githubusercontent.com";
        const given = await declare({ oidcProvider: { arn } });
        assert.equal(ofType(given, OIDC).length, 0);
        assert.equal(trustOf(byName(given, "d-deploy-prod")).Statement[0].Principal.Federated, arn);
    });

    it("declares an environment per stack, with required reviewers and a main-only branch policy for prod", async () => {
        const rs = await declare();
        const prod = plain(byName(rs, "d-prod"));
        assert.deepEqual(prod.reviewers, [{ users: [11], teams: [22] }]);
        assert.deepEqual(prod.deploymentBranchPolicy, { protectedBranches: false, customBranchPolicies: true });
        assert.equal(prod.preventSelfReview, true);
        assert.equal(prod.canAdminsBypass, false);
        assert.equal(prod.repository, "imagefleet");
        assert.deepEqual(plain(byName(rs, "d-prod-main")), { repository: "imagefleet", environment: "prod", branchPattern: "main" });
        const dev = plain(byName(rs, "d-dev"));
        assert.equal(dev.reviewers, undefined);
        assert.equal(dev.deploymentBranchPolicy, undefined);
        const provider = plain(byName(rs, "d-github"));
        assert.equal(provider.owner, "Example-Org");
    });

    it("publishes role ARNs, region and the backend URL as Actions variables", async () => {
        const rs = await declare();
        const repoVars = Object.fromEntries(ofType(rs, "github:index/actionsVariable:ActionsVariable").map((v) => [plain(v).variableName, plain(v).value]));
        assert.deepEqual(repoVars, {
            AWS_PREVIEW_ROLE_ARN: byName(rs, "d-preview").state.arn,
            AWS_REGION: "eu-west-1",
            PULUMI_BACKEND_URL: "s3://state-bucket/imagefleet?region=eu-west-1",
        });
        const envVars = ofType(rs, "github:index/actionsEnvironmentVariable:ActionsEnvironmentVariable").map(plain);
        for (const env of ["dev", "staging", "prod"]) {
            const vars = Object.fromEntries(envVars.filter((v) => v.environment === env).map((v) => [v.variableName, v.value]));
            assert.deepEqual(vars, { AWS_ROLE_ARN: byName(rs, `d-deploy-${env}`).state.arn, AWS_REGION: "eu-west-1" });
        }
    });

    it("keeps the GitHub token secret when one is given", async () => {
        const rs = await declare({ githubToken: "ghp_admin" });
        const provider = byName(rs, "d-github");
        assert.ok(isSecret(provider.inputs.token), JSON.stringify(provider.inputs));
    });

    it("rejects an unprotected prod, a bad repository and a missing backend URL, before declaring anything", async () => {
        try {
            await declare({ repository: "no-slash", stateBackendUrl: undefined, environments: [{ name: "prod" }, { name: "dev", reviewers: { users: [-1] } }] });
            assert.fail("expected a ValidationError");
        } catch (err) {
            assert.ok(err instanceof ValidationError, String(err));
            assertMentions(err.message, [
                'repository: "no-slash" is not "OWNER/REPO"',
                'environments[0].reviewers: "prod" is a protected environment and needs at least one required reviewer',
                "environments[1].reviewers.users[0]: must be a GitHub user ID (a positive whole number, not a login",
                "stateBackendUrl: required with the preview role",
            ]);
            assert.deepEqual((err as any).resources, []);
        }
    });
});

describe("delivery stack config (imagefleet:delivery)", () => {
    async function run(stack: string, overrides: string[] = []) {
        return (await runStack(stack, overrides)).resources;
    }

    it("dev owns the OIDC provider and preview role; prod manages only its own protected environment", async () => {
        const dev = await run("dev");
        assert.equal(ofType(dev, OIDC).length, 1);
        assert.ok(dev.some((r) => r.name === "imagefleet-delivery-preview"));
        const prod = await run("prod");
        assert.equal(ofType(prod, OIDC).length, 0);
        assert.deepEqual(ofType(prod, ROLE).map((r) => r.name), ["imagefleet-delivery-deploy-prod"]);
        assert.ok(plain(byName(prod, "imagefleet-delivery-prod")).reviewers[0].users.length > 0);
    });

    it("re-spells delivery problems with the config key and the stack", async () => {
        await assert.rejects(run("prod", ['imagefleet:delivery={"repository": "example-org/imagefleet", "preview": false, "environments": [{"name": "prod"}], "extra": 1}']),
            (err: Error) => err instanceof ValidationError
                && err.message.startsWith('stack config (stack "prod") is invalid')
                && err.message.includes('imagefleet:delivery.extra: unknown key'));
        await assert.rejects(run("prod", ['imagefleet:delivery={"repository": "example-org/imagefleet", "preview": false, "environments": [{"name": "prod"}]}']),
            (err: Error) => err instanceof ValidationError
                && err.message.includes('imagefleet:delivery.environments[0].reviewers: "prod" is a protected environment'));
    });
});
