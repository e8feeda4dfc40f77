// Just enough of Pulumi's mocks to run this program without an engine or a
// cloud: every resource is recorded, providers answer with plausible outputs,
// and any provider function not answered here fails the run.
import * as crypto from "crypto";
import * as pulumi from "@pulumi/pulumi";

export interface Recorded {
    readonly type: string;
    readonly name: string;
    readonly inputs: Record<string, unknown>;
    readonly state: Record<string, unknown>;
}

export interface Run {
    readonly resources: Recorded[];
    /** The program module's exports. */
    readonly outputs: Record<string, unknown>;
}

const ACCOUNT = "123456789012";
const REGION = "eu-west-1";
export const ECR_HOST = `${ACCOUNT}.dkr.ecr.${REGION}.amazonaws.com`;

export const digestOf = (...parts: string[]): string =>
    "sha256:" + crypto.createHash("sha256").update(parts.join("\0")).digest("hex");

const CALLS: Record<string, (inputs: Record<string, unknown>) => Record<string, unknown>> = {
    "aws:ecr/getAuthorizationToken:getAuthorizationToken": () => ({
        authorizationToken: "bW9jazptb2Nr", proxyEndpoint: `https://${ECR_HOST}`, userName: "AWS", password: "mock-password",
        expiresAt: "2099-01-01T00:00:00Z", id: "mock",
    }),
    "aws:index/getPartition:getPartition": () => ({ partition: "aws", dnsSuffix: "amazonaws.com", id: "aws" }),
    "aws:index/getRegion:getRegion": () => ({ name: REGION, region: REGION, id: REGION }),
    "aws:index/getCallerIdentity:getCallerIdentity": () => ({ accountId: ACCOUNT, arn: `arn:aws:iam::${ACCOUNT}:user/mock`, userId: "AIDAMOCK", id: ACCOUNT }),
    "aws:ec2/getAmi:getAmi": (inputs) => {
        const filters = (inputs.filters ?? []) as { name: string; values: string[] }[];
        const arch = filters.find((f) => f.name === "architecture")?.values[0] ?? "x86_64";
        return { id: `ami-${arch}`, imageId: `ami-${arch}`, architecture: arch };
    },
};

/** The `refs` output of a stack that built the family: `repo:sha@sha256:…` per image. */
export function stackRefs(stack: string): Record<string, string> {
    const env = stack.split("/").pop();
    return Object.fromEntries(["dev-env", "artifact", "api", "worker"].map((image) =>
        [image, `${ECR_HOST}/acme/${env}/${image}:0123456789ab@${digestOf(stack, image)}`]));
}

/** What a provider would compute for a resource, beyond echoing its inputs. */
function stateOf(type: string, name: string, inputs: Record<string, unknown>): Record<string, unknown> {
    switch (type) {
        case "aws:ecr/repository:Repository":
            return { ...inputs, arn: `arn:aws:ecr:${REGION}:${ACCOUNT}:repository/${String(inputs.name)}`, repositoryUrl: `${ECR_HOST}/${String(inputs.name)}` };
        case "docker-build:index:Image": {
            const digest = digestOf(name);
            const tags = (inputs.tags ?? []) as string[];
            return { ...inputs, digest, ref: `${tags[0]}@${digest}` };
        }
        case "docker-build:index:Index":
            return { ...inputs, ref: `${String(inputs.tag)}@${digestOf(name)}` };
        case "tls:index/privateKey:PrivateKey":
            return { ...inputs, privateKeyPem: `-----BEGIN PRIVATE KEY-----\n${name}\n-----END PRIVATE KEY-----\n` };
        case "tls:index/certRequest:CertRequest":
            return { ...inputs, certRequestPem: `-----BEGIN CERTIFICATE REQUEST-----\n${name}\n-----END CERTIFICATE REQUEST-----\n` };
        case "tls:index/selfSignedCert:SelfSignedCert":
        case "tls:index/locallySignedCert:LocallySignedCert":
            return { ...inputs, certPem: `-----BEGIN CERTIFICATE-----\n${name}\n-----END CERTIFICATE-----\n` };
        case "pulumi:pulumi:StackReference":
            // Another stack of the family, which exported `refs` the way ImageFamily does.
            return { name: inputs.name, outputs: { refs: stackRefs(String(inputs.name)) }, secretOutputNames: [] };
        default:
            return { ...inputs, arn: `arn:aws:mock:::${name}` };
    }
}

/** Runs a Pulumi program module under mocks and returns every resource it declared. */
export async function runProgram(program: string, stack = "dev", config: Record<string, string> = {}): Promise<Run> {
    const resources: Recorded[] = [];
    await pulumi.runtime.setMocks({
        newResource: (args) => {
            const state = args.custom === false ? {} : stateOf(args.type, args.name, args.inputs);
            resources.push({ type: args.type, name: args.name, inputs: args.inputs, state });
            return { id: args.custom === false ? undefined : `${args.name}-id`, state };
        },
        call: (args) => {
            const answer = CALLS[args.token];
            if (answer === undefined) {
                throw new Error(`unmocked provider function ${args.token}`);
            }
            return answer(args.inputs ?? {});
        },
    }, "imagefleet-consumer", stack, false);
    // Stack config as `pulumi config set` would hold it: `{"imagefleet-consumer:key": "value"}`.
    pulumi.runtime.setAllConfig(config, []);
    let outputs: Record<string, unknown> = {};
    await pulumi.runtime.runInPulumiStack(async () => {
        // eslint-disable-next-line @typescript-eslint/no-require-imports -- the program must load after setMocks, under its stack
        outputs = require(program) as Record<string, unknown>;
        return outputs;
    });
    // Waits for every registration the program started.
    await pulumi.runtime.disconnect();
    return { resources: resources.filter((r) => r.type !== "pulumi:pulumi:Stack"), outputs };
}

/** The plain value of an Output (mocks resolve them all); rejects when it does not resolve in time. */
export function valueOf<T>(output: pulumi.Input<T>, timeoutMs = 10_000): Promise<T> {
    return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`output did not resolve within ${timeoutMs} ms`)), timeoutMs);
        pulumi.output(output).apply((v) => {
            clearTimeout(timer);
            resolve(v as T);
            return v;
        });
    });
}
