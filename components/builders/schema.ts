import * as net from "net";
import { z } from "zod";
import { show } from "../errors";
import { checked, hint, input, matching, nonEmpty, wholeNumber } from "../schema";
import { BuilderFleetArgs, BuildxRegistrationArgs, FLEET_PLATFORMS, FleetPlatform, KubernetesBuilderArgs } from "./types";

/** The schema of BuilderFleetArgs; rules across fields (architecture, GC below the volume, public CIDRs) are in validate.ts. */

/** The CIDR's problem, or undefined when it is a valid IPv4/IPv6 CIDR. */
export function cidrProblem(cidr: unknown): string | undefined {
    if (typeof cidr !== "string") {
        return `${show(cidr)} is not a CIDR string`;
    }
    const [ip, bits, extra] = cidr.split("/");
    const version = net.isIP(ip ?? "");
    const max = version === 4 ? 32 : 128;
    if (version === 0 || extra !== undefined || !/^\d{1,3}$/.test(bits ?? "") || Number(bits) > max) {
        return `${show(cidr)} is not a CIDR such as "10.0.0.0/16" or "2001:db8::/32"`;
    }
    return undefined;
}

/** The placeholders a release URL may hold, and what the user data puts there. */
export const RELEASE_URL_PLACEHOLDERS = ["{version}", "{arch}"] as const;

/**
 * The problem with a BuildKit release URL template, or undefined. The URL ends
 * up in a shell script on the host, so it is held to the characters a URL is
 * made of (no quotes, spaces, `$` or backquotes), besides being http(s).
 */
export function releaseUrlProblem(template: string, placeholders: readonly string[] = RELEASE_URL_PLACEHOLDERS): string | undefined {
    const unknown = (template.match(/\{[^}]*\}/g) ?? []).filter((p) => !placeholders.includes(p));
    if (unknown.length > 0) {
        return `${show(template)} has ${unknown.join(", ")}; only ${placeholders.join(" and ")} ${placeholders.length === 1 ? "is" : "are"} replaced`;
    }
    if (!/^[A-Za-z0-9._~:/?#[\]@!&()*+,;=%{}-]+$/.test(template)) {
        return `${show(template)} has characters a URL cannot hold unescaped (spaces, quotes, $, \`, \\); percent-encode them`;
    }
    let url: URL;
    try {
        url = new URL(template.replaceAll("{version}", "v0.0.0").replaceAll("{arch}", "amd64"));
    } catch {
        return `${show(template)} is not a URL`;
    }
    if (url.protocol !== "https:" && url.protocol !== "http:") {
        return `${show(template)} is not an http(s) URL`;
    }
    return undefined;
}

export const vpcId = matching(/^vpc-(?:[0-9a-f]{8}|[0-9a-f]{17})$/, 'a VPC id such as "vpc-0a1b2c3d4e5f60718"');
export const subnetId = matching(/^subnet-(?:[0-9a-f]{8}|[0-9a-f]{17})$/, 'a subnet id such as "subnet-0a1b2c3d4e5f60718"');
const amiId = matching(/^ami-(?:[0-9a-f]{8}|[0-9a-f]{17})$/, 'an AMI id such as "ami-0a1b2c3d4e5f60718"');
/** ECR repository ARNs; the repository part may end in a `*` wildcard, as IAM allows. */
export const ecrRepositoryArn = matching(/^arn:aws(?:-cn|-us-gov)?:ecr:[a-z0-9-]+:\d{12}:repository\/[a-z0-9*][a-z0-9._/*-]*$/,
    'an ECR repository ARN such as "arn:aws:ecr:eu-west-1:123456789012:repository/team/runtime"');
/** A KMS key by ARN (an alias ARN would let whoever moves the alias change the key the hosts sign with). */
const kmsKeyArn = matching(/^arn:aws(?:-cn|-us-gov)?:kms:[a-z0-9-]+:\d{12}:key\/[0-9a-f-]{36}$/,
    'a KMS key ARN such as "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"');
const fleetPlatform = hint(z.enum(FLEET_PLATFORMS as [FleetPlatform, ...FleetPlatform[]]), "a platform EC2 hosts build natively");

export const nodeGroup = hint(z.strictObject({
    instanceType: hint(z.string().min(1), 'an EC2 instance type such as "c7g.2xlarge"'),
    count: wholeNumber(1, 20, "a whole number of hosts from 1 to 20").optional(),
}), 'a node group: {"instanceType": "c7g.2xlarge", "count": 1}');

export const builderFleetArgs = z.strictObject({
    vpcId: input(vpcId),
    subnetIds: nonEmpty(input(subnetId), "is required: a non-empty list of subnet ids", "a non-empty list of subnet ids"),
    allowedCidrs: nonEmpty(checked((c) => cidrProblem(c), 'a CIDR such as "10.0.0.0/16"'),
        'is required: the CIDRs of the CI runners or office that may reach BuildKit, e.g. ["10.0.0.0/16"]',
        'a non-empty list of the CIDRs of the CI runners or office that may reach BuildKit, e.g. ["10.0.0.0/16"]'),
    allowPublicIngress: z.boolean().optional(),
    publicEndpoint: z.boolean().optional(),
    nodes: hint(z.partialRecord(fleetPlatform, nodeGroup).refine((n) => Object.keys(n).length > 0, {
        error: 'needs at least one platform, e.g. {"linux/arm64": {"instanceType": "c7g.2xlarge"}}',
        // Only when nothing else is wrong: an unknown platform is that one error, not also "no platform".
        when: (payload) => payload.issues.length === 0,
    }), 'hosts per platform, e.g. {"linux/arm64": {"instanceType": "c7g.2xlarge"}}'),
    spot: z.boolean().optional(),
    cacheVolumeGiB: wholeNumber(20, 16384, "a whole number of GiB from 20 to 16384").optional(),
    gc: hint(z.strictObject({
        maxUsedGiB: wholeNumber(1, 16384, "a whole number of GiB").optional(),
        minFreeGiB: wholeNumber(1, 16384, "a whole number of GiB").optional(),
        keepDuration: matching(/^\d+(h|m|s)$/, 'a duration such as "168h"').optional(),
    }), 'GC limits: {"maxUsedGiB", "minFreeGiB", "keepDuration"}').optional(),
    idleStopMinutes: wholeNumber(0, 10080, "a whole number of minutes (0 never stops)").optional(),
    buildkitVersion: matching(/^v\d+\.\d+\.\d+(-[0-9A-Za-z.]+)?$/, 'a BuildKit release tag such as "v0.34.2"').optional(),
    buildkitReleaseUrl: checked(releaseUrlProblem,
        'an http(s) URL of a BuildKit release tarball, {version} and {arch} replaced, such as "https://mirror.example.com/buildkit/{version}/buildkit-{version}.linux-{arch}.tar.gz"').optional(),
    port: wholeNumber(1, 65535, "a TCP port (1-65535)").optional(),
    repositoryArns: hint(z.array(input(ecrRepositoryArn)), "a list of ECR repository ARNs").optional(),
    keyName: input(hint(z.string().min(1), "an EC2 key pair name")).optional(),
    amis: hint(z.partialRecord(fleetPlatform, input(amiId)), "an AMI id per platform").optional(),
    builderNamePrefix: matching(/^[a-zA-Z][a-zA-Z0-9_.-]*$/, "a buildx builder name (a letter, then letters, digits, '.', '_' or '-')").optional(),
    register: z.boolean().optional(),
    certValidityHours: wholeNumber(24 * 31, 24 * 3650, "whole hours, at least 744 (renewal starts 720 hours before expiry)").optional(),
    tags: hint(z.record(z.string(), z.string()), "a map of tag name to string").optional(),
    attestor: hint(z.strictObject({
        releaseUrl: checked((url) => releaseUrlProblem(url, ["{arch}"]),
            'an http(s) URL of the attestor tarball (scripts/attestor-release.sh), {arch} replaced, such as "https://mirror.example.com/imagefleet-attestor-linux-{arch}.tar.gz"'),
        kmsKeyArn: kmsKeyArn.optional(),
    }), '{"releaseUrl": "https://…/imagefleet-attestor-linux-{arch}.tar.gz", "kmsKeyArn": "arn:aws:kms:…"}').optional(),
});

/** `imagefleet:fleet`: the fleet's arguments with plain values, without what the program sets itself. */
export const fleetConfig = builderFleetArgs.omit({ amis: true, builderNamePrefix: true, register: true });

/** BuildxRegistration's arguments; BuilderFleet makes them, so only their shape is checked. */
export const buildxRegistrationArgs = z.strictObject({
    builderName: input(matching(/^[a-zA-Z][a-zA-Z0-9_.-]*$/, "a buildx builder name (a letter, then letters, digits, '.', '_' or '-')")),
    platform: input(hint(z.string().min(1), "a platform such as \"linux/arm64\"")),
    nodes: input(hint(z.array(input(z.strictObject({
        endpoint: input(matching(/^tcp:\/\/\S+:\d{1,5}$/, 'an endpoint such as "tcp://10.0.1.5:1234"')),
        serverName: input(hint(z.string().min(1), "a server name")),
    }))).min(1), "a non-empty list of hosts")),
    caPem: input(hint(z.string().min(1), "a PEM certificate")),
    certPem: input(hint(z.string().min(1), "a PEM certificate")),
    keyPem: input(hint(z.string().min(1), "a PEM key")),
    certDir: input(hint(z.string().min(1), "a directory")).optional(),
    waitSeconds: input(wholeNumber(0, 3600, "whole seconds from 0 to 3600")).optional(),
});

const resources = hint(z.strictObject({
    cpu: hint(z.string().min(1), 'CPU units such as "2" or "500m"').optional(),
    memory: hint(z.string().min(1), 'a memory size such as "8Gi"').optional(),
}), '{"cpu": "2", "memory": "8Gi"}');

/** KubernetesBuilder's arguments. */
export const kubernetesBuilderArgs = z.strictObject({
    // The Deployment is named after the builder: a DNS label that buildx also accepts.
    builderName: input(matching(/^[a-z][a-z0-9-]{0,62}$/, "a builder name that is also a Deployment name: lower case letters, digits and '-', starting with a letter, at most 63")),
    platform: input(hint(z.enum(["linux/amd64", "linux/arm64", "linux/arm/v7", "linux/ppc64le", "linux/riscv64", "linux/s390x"]), 'a platform such as "linux/arm64"')),
    namespace: input(matching(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, "a Kubernetes namespace")).optional(),
    nodeSelector: input(hint(z.record(z.string().min(1), z.string()), 'node labels, e.g. {"kubernetes.io/arch": "arm64"}')).optional(),
    requests: input(resources).optional(),
    limits: input(resources).optional(),
    image: input(hint(z.string().min(1), "a BuildKit image reference")).optional(),
    rootless: input(z.boolean()).optional(),
});

type SameKeys<A, B> = [Exclude<keyof A, keyof B>, Exclude<keyof B, keyof A>] extends [never, never] ? true : never;
const _keys: SameKeys<z.infer<typeof builderFleetArgs>, BuilderFleetArgs> = true;
const _registrationKeys: SameKeys<z.infer<typeof buildxRegistrationArgs>, BuildxRegistrationArgs> = true;
const _kubernetesKeys: SameKeys<z.infer<typeof kubernetesBuilderArgs>, KubernetesBuilderArgs> = true;
const _type: z.ZodType<BuilderFleetArgs> = builderFleetArgs;
void [_keys, _type, _registrationKeys, _kubernetesKeys];
