import { createHash } from "crypto";
import { MockCallArgs } from "@pulumi/pulumi/runtime";

/**
 * Answers for provider functions (invokes) under mocks. Anything not listed
 * throws, so a program that starts calling a new cloud API fails its tests
 * loudly instead of evaluating against `undefined`.
 */
export type CallHandler = (inputs: Record<string, any>) => Record<string, any>;

export const DEFAULT_CALLS: Record<string, CallHandler> = {
    "aws:index/getCallerIdentity:getCallerIdentity": () => ({
        accountId: "123456789012",
        arn: "arn:aws:iam::123456789012:user/mock",
        userId: "AIDAMOCK",
        id: "123456789012",
    }),
    "aws:index/getRegion:getRegion": () => ({ name: "eu-west-1", region: "eu-west-1", id: "eu-west-1" }),
    "aws:index/getPartition:getPartition": () => ({ partition: "aws", dnsSuffix: "amazonaws.com", id: "aws" }),
    "aws:ecr/getAuthorizationToken:getAuthorizationToken": (inputs) => ({
        authorizationToken: "bW9jazptb2Nr",
        proxyEndpoint: `https://${inputs.registryId ?? "123456789012"}.dkr.ecr.eu-west-1.amazonaws.com`,
        userName: "AWS",
        password: "mock-ecr-password",
        expiresAt: "2099-01-01T00:00:00Z",
        id: "mock",
    }),
    "aws:iam/getOpenIdConnectProvider:getOpenIdConnectProvider": (inputs) => ({
        arn: `arn:aws:iam::123456789012:oidc-provider/${String(inputs.url ?? "").replace(/^https:\/\//, "")}`,
        url: String(inputs.url ?? "").replace(/^https:\/\//, ""),
        clientIdLists: ["sts.amazonaws.com"],
        thumbprintLists: [],
        tags: {},
        id: "mock-oidc",
    }),
    "aws:ec2/getAmi:getAmi": (inputs) => {
        const arch = (inputs.filters ?? []).find((f: any) => f.name === "architecture")?.values?.[0] ?? "x86_64";
        return { id: `ami-mock-${arch}`, imageId: `ami-mock-${arch}`, architecture: arch, name: `al2023-ami-mock-${arch}` };
    },
};

export function answerCall(calls: Record<string, CallHandler>, args: MockCallArgs): Record<string, any> {
    const handler = calls[args.token];
    if (!handler) {
        throw new Error(`unmocked call ${args.token}(${JSON.stringify(args.inputs)}): add an answer to scripts/harness/calls.ts`);
    }
    return handler(args.inputs ?? {});
}

/**
 * Outputs a provider computes for a resource type (beyond echoing inputs and a
 * mock `arn`), so interpolations such as a repository URL resolve under mocks.
 */
export const RESOURCE_STATES: Record<string, (name: string, inputs: Record<string, any>) => Record<string, any>> = {
    "aws:ecr/repository:Repository": (name, inputs) => ({
        arn: `arn:aws:ecr:eu-west-1:123456789012:repository/${inputs.name ?? name}`,
        repositoryUrl: `123456789012.dkr.ecr.eu-west-1.amazonaws.com/${inputs.name ?? name}`,
        registryId: "123456789012",
    }),
    // A key id is a UUID; this one is derived from the name, so a test can name it.
    "aws:kms/key:Key": (name) => {
        const hex = createHash("sha256").update(name).digest("hex");
        const id = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
        return { keyId: id, arn: `arn:aws:kms:eu-west-1:123456789012:key/${id}` };
    },
    "aws:iam/role:Role": (name, inputs) => ({ arn: `arn:aws:iam::123456789012:role/${inputs.name ?? name}`, name: inputs.name ?? name }),
    // What `cosign generate-key-pair` would give, clearly fake; tests check none of it is printed.
    "pulumi-nodejs:dynamic/supplychain:CosignKeyPair": (name) => ({
        keyId: createHash("sha256").update(name).digest("hex").slice(0, 16),
        publicKey: `-----BEGIN PUBLIC KEY-----\nMOCK-PUBLIC-${name}\n-----END PUBLIC KEY-----\n`,
        privateKey: `-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\nMOCK-PRIVATE-${name}\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n`,
        password: `MOCK-PASSWORD-${name}`,
    }),
    "aws:iam/openIdConnectProvider:OpenIdConnectProvider": (_name, inputs) => ({
        arn: `arn:aws:iam::123456789012:oidc-provider/${String(inputs.url).replace(/^https:\/\//, "")}`,
    }),
};

/**
 * Outputs of a stack a program reads through a StackReference, when a test
 * gives none (`evaluate({ stackOutputs })`): what the staging stack of the
 * example family exports, so `npm run synth -- --stack prod` can show the
 * promotion. Refs are pinned by fake digests.
 */
export function defaultStackOutputs(stackName: string): Record<string, any> {
    const stack = stackName.split("/").pop()!;
    const digest = (s: string) => `sha256:${createHash("sha256").update(s).digest("hex")}`;
    const refs: Record<string, string> = {};
    const platformRefs: Record<string, Record<string, string>> = {};
    for (const image of ["dev-env", "artifact", "runtime"]) {
        const repo = `123456789012.dkr.ecr.eu-west-1.amazonaws.com/imagefleet/${stack}/${image}`;
        refs[image] = `${repo}:0123456789ab@${digest(`${stackName}/${image}`)}`;
        platformRefs[image] = Object.fromEntries(["amd64", "arm64"].map((a) => [`linux/${a}`, `${repo}:0123456789ab-${a}@${digest(`${stackName}/${image}/${a}`)}`]));
    }
    return { refs, platformRefs };
}
