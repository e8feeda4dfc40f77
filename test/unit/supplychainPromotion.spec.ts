import { strict as assert } from "assert";
import * as pulumi from "@pulumi/pulumi";
import { promotedImages, Promotion } from "../../components/delivery";
import { signingKeyPolicy } from "../../components/supplychain";
import { plain, byName, fixtureImages, runStack, SHA, assertMentions, stackConfigError } from "./helpers";

const ECR = "123456789012.dkr.ecr.eu-west-1.amazonaws.com";
const digest = (c: string) => `sha256:${c.repeat(64)}`;
const refs: Record<string, string> = {
    "dev-env": `${ECR}/imagefleet/staging/dev-env:${SHA.slice(0, 12)}@${digest("a")}`,
    artifact: `${ECR}/imagefleet/staging/artifact:${SHA.slice(0, 12)}@${digest("b")}`,
    runtime: `${ECR}/imagefleet/staging/runtime:${SHA.slice(0, 12)}@${digest("c")}`,
};
const VERIFY = "pulumi-nodejs:dynamic/supplychain:SourceVerification";

interface Seen {
    /** Resource names in the order the engine was asked to create them. */
    registered: string[];
    /** dependsOn of each Index, as names. */
    dependsOn: Record<string, string[]>;
    inputs: Record<string, any>;
    error?: unknown;
}

/**
 * Runs a Promotion with verification under mocks whose SourceVerification
 * either echoes its refs (verified) or fails like cosign would.
 */
async function promoteWith(verification: "passes" | "fails"): Promise<Seen> {
    const seen: Seen = { registered: [], dependsOn: {}, inputs: {} };
    await pulumi.runtime.setMocks({
        newResource: (args) => {
            if (args.type === VERIFY && verification === "fails") {
                throw new Error("supply chain verification of stack \"staging\" failed; no image was promoted:\n  - image \"runtime\": signature: no valid signature");
            }
            seen.registered.push(args.name);
            seen.inputs[args.name] = args.inputs;
            const state = args.type === "docker-build:index:Index" ? { ...args.inputs, ref: `${args.inputs.tag}@${digest("e")}` } : args.inputs;
            return { id: `${args.name}-id`, state };
        },
        call: () => ({}),
    }, "imagefleet", "prod", false);
    try {
        await pulumi.runtime.runInPulumiStack(async () => {
            pulumi.runtime.registerStackTransformation((t) => {
                if (t.type === "docker-build:index:Index") {
                    const deps = (t.opts.dependsOn ?? []) as pulumi.Resource[];
                    seen.dependsOn[t.name] = [...deps].map((d) => (d as any).__name as string);
                }
                return undefined;
            });
            // Returned as the stack's outputs, so a failed verification fails the program as in `pulumi up`.
            return new Promotion("p", {
                images: promotedImages(fixtureImages),
                sources: refs,
                sourceName: "stack \"staging\"",
                repositories: Object.fromEntries(Object.keys(refs).map((i) => [i, `${ECR}/imagefleet/prod/${i}`])),
                verify: {
                    key: { keyRef: "awskms:///alias/imagefleet-staging-cosign" },
                    policy: { sourceRepository: "https://github.com/example-org/imagefleet", builders: ["imagefleet-staging-amd64", "imagefleet-staging-arm64"] },
                },
            }).refs;
        });
    } catch (err) {
        seen.error = err;
    }
    // A failed registration surfaces when the program's outstanding work is awaited.
    await pulumi.runtime.disconnect().catch((err) => {
        seen.error = seen.error ?? err;
    });
    return seen;
}

describe("Promotion verifies every source before it writes a tag", () => {
    it("declares one verification of every source ref, and every index (SHA, environment, release) depends on it and takes its source from it", async () => {
        const seen = await promoteWith("passes");
        assert.equal(seen.error, undefined, String(seen.error));
        assert.deepEqual(seen.inputs["p-verify"].refs, refs);
        assert.deepEqual(seen.inputs["p-verify"].verifying, { keyRef: "awskms:///alias/imagefleet-staging-cosign" });
        const indexes = Object.keys(seen.dependsOn);
        assert.equal(indexes.length, 6, indexes.join(", "));
        for (const name of indexes) {
            assert.deepEqual(seen.dependsOn[name], ["p-verify"], `${name} does not wait for the verification`);
            assert.ok(seen.registered.indexOf(name) > seen.registered.indexOf("p-verify"), `${name} was registered before the verification finished`);
        }
        assert.deepEqual(seen.inputs["p-runtime"].sources, [refs.runtime.replace(/:[0-9a-f]{12}@/, "@")], "copied by the verified digest, not by tag");
    });

    it("when the verification fails, no index is created at all and the error names the image and the check", async () => {
        const seen = await promoteWith("fails");
        assert.ok(seen.error, `the promotion did not fail; created: ${seen.registered.join(", ")}`);
        assertMentions(String(seen.error), ["image \"runtime\"", "signature"]);
        assert.deepEqual(seen.registered.filter((n) => n !== "p" && n !== "imagefleet-prod"), [], `created despite the failed verification: ${seen.registered.join(", ")}`);
    });

    it("the prod stack verifies staging's sources with staging's KMS key and builders", async () => {
        const { resources } = await runStack("prod");
        const v = plain(byName(resources, "example-verify"));
        assert.deepEqual(v.verifying, { keyRef: "awskms:///alias/imagefleet-staging-cosign" });
        assert.deepEqual(v.policy, { sourceRepository: "https://github.com/example-org/imagefleet", builders: ["imagefleet-staging-amd64", "imagefleet-staging-arm64"] });
        assert.equal(Object.keys(v.refs).length, 3);
    });
});

describe("Promotion of sources built on attesting hosts (config)", () => {
    const HOST = "-----BEGIN PUBLIC KEY-----\nMOCK-HOST\n-----END PUBLIC KEY-----\n";
    const verifyWith = (verify: Record<string, unknown>) => [`imagefleet:supplychain=${JSON.stringify({
        sourceRepository: "https://github.com/example-org/imagefleet",
        verify: { key: "awskms:///alias/imagefleet-staging-cosign", builders: ["imagefleet-staging-amd64", "imagefleet-staging-arm64"], ...verify },
    })}`];

    it("hands the verification the host keys this stack trusts, the bound on the wait, and what the source recorded of its attested builds", async () => {
        const { resources } = await runStack("prod", verifyWith({
            builderKeys: { "imagefleet-staging-amd64": "awskms:///alias/hosts-amd64", "imagefleet-staging-arm64": HOST }, waitSeconds: 120,
        }));
        const v = plain(byName(resources, "example-verify"));
        assert.deepEqual(v.builderKeys, { "imagefleet-staging-amd64": { keyRef: "awskms:///alias/hosts-amd64" }, "imagefleet-staging-arm64": { publicKey: HOST } });
        assert.equal(v.waitSeconds, 120);
        assert.equal(typeof v.attested, "object", "the source's attestedBy is not passed on");
    });

    it("refuses a host key that is no key, a .pub path that does not exist and a wait out of bounds, naming each key", async () => {
        const err = await stackConfigError("prod", verifyWith({ builderKeys: { a: "my-key" }, waitSeconds: 7200 }));
        assertMentions(err.message, ['stack "prod"', "imagefleet:supplychain.verify.builderKeys.a: \"my-key\" is not", "imagefleet:supplychain.verify.waitSeconds: must be at most 3600"]);
        const missing = await stackConfigError("prod", verifyWith({ builderKeys: { b: "/nonexistent/b.pub" } }));
        assertMentions(missing.message, ["imagefleet:supplychain.verify.builderKeys.b: /nonexistent/b.pub does not exist"]);
    });
});

describe("the KMS signing key's policy", () => {
    const deploy = "arn:aws:iam::123456789012:role/imagefleet-delivery-deploy-staging-1a2b3c";
    const policy = signingKeyPolicy("123456789012", "aws", [deploy]) as any;
    const allows = (action: string) => policy.Statement.filter((s: any) => s.Effect === "Allow" && [s.Action].flat().some((a: string) =>
        a === action || (a.endsWith("*") && action.startsWith(a.slice(0, -1)))));

    it("grants kms:Sign to the deploy roles only, never to the account (so no IAM policy, e.g. the preview role's, can grant it)", () => {
        const sign = allows("kms:Sign");
        assert.equal(sign.length, 1);
        assert.deepEqual(sign[0].Principal, { AWS: [deploy] });
        assert.deepEqual(allows("kms:CreateGrant"), [], "a grant could hand out kms:Sign around the key policy");
    });

    it("denies kms:Sign to every other principal explicitly, and lets the account verify and administer the key", () => {
        const deny = policy.Statement.find((s: any) => s.Effect === "Deny");
        assert.equal(deny.Action, "kms:Sign");
        assert.deepEqual(deny.Condition, { ArnNotEquals: { "aws:PrincipalArn": [deploy] } });
        assert.equal(allows("kms:Verify")[0].Principal.AWS, "arn:aws:iam::123456789012:root");
        assert.equal(allows("kms:PutKeyPolicy")[0].Principal.AWS, "arn:aws:iam::123456789012:root");
    });

    it("the staging stack declares the key for its deploy role, with an alias prod verifies against", async () => {
        const { resources } = await runStack("staging");
        const key = plain(byName(resources, "imagefleet-signing-cosign"));
        assert.equal(key.keyUsage, "SIGN_VERIFY");
        assert.equal(key.customerMasterKeySpec, "ECC_NIST_P256");
        const p = JSON.parse(key.policy);
        const signers = p.Statement.find((s: any) => s.Sid === "DeployRolesSign").Principal.AWS;
        assert.equal(signers.length, 1);
        assert.match(signers[0], /deploy-staging/);
        const alias = resources.find((r) => r.type === "aws:kms/alias:Alias");
        assert.equal(plain(alias!).name, "alias/imagefleet-staging-cosign");
    });
});
