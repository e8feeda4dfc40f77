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
