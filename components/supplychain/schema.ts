import { z } from "zod";
import { hint, matching } from "../schema";

/** A repository URL every provenance names. */
export const sourceRepository = matching(/^(https?|ssh|git):\/\/\S+$/, 'a repository URL such as "https://github.com/example-org/imagefleet"');

const roleArn = matching(/^arn:aws[a-z-]*:iam::\d{12}:role\/\S+$/, "an IAM role ARN (arn:aws:iam::<account>:role/<name>)");

const verifyKey = hint(z.string().refine((k) => k.startsWith("awskms://") || k.includes("-----BEGIN PUBLIC KEY-----"), {
    error: (iss) => `${JSON.stringify(iss.input)} is not "awskms:///<key arn or alias/name>" or a PEM public key ("-----BEGIN PUBLIC KEY-----…")`,
}), '"awskms:///<key arn or alias/name>" or a PEM public key');

const attestorKey = hint(z.string().refine((k) => k.startsWith("awskms://") || k.includes("-----BEGIN PUBLIC KEY-----") || /^\/\S+\.pub$/.test(k), {
    error: (iss) => `${JSON.stringify(iss.input)} is not "awskms:///<key arn or alias/name>", a PEM public key, or the absolute path of a .pub file`,
}), '"awskms:///…", a PEM public key, or the absolute path of the host\'s cosign.pub');

/** `imagefleet:supplychain` as a stack file holds it. */
export const supplyChainConfig = hint(z.strictObject({
    sourceRepository,
    signing: hint(z.enum(["generate", "kms"]), '"generate" (a cosign key pair kept as secrets) or "kms" (an AWS KMS key this stack declares)').optional(),
    signerArns: hint(z.array(roleArn).min(1), "role ARNs that may sign besides the stack's deploy roles").optional(),
    attestors: hint(z.record(z.string().min(1), attestorKey),
        'builders whose host attests its own builds, by buildx builder name: {"imagefleet-local-amd64": "/var/lib/imagefleet-e2e/attestors/imagefleet-local-amd64.pub"}').optional(),
    verify: hint(z.strictObject({
        key: verifyKey,
        builders: hint(z.array(z.string().min(1)).min(1), 'the buildx builder names the source stack builds on, e.g. ["imagefleet-staging-amd64", "imagefleet-staging-arm64"]'),
        builderKeys: hint(z.record(z.string().min(1), attestorKey),
            'the builders whose hosts attest their builds, with the key this stack trusts for each: {"imagefleet-staging-amd64": "awskms:///alias/…"}').optional(),
        waitSeconds: hint(z.number().int().min(0).max(3600), "whole seconds from 0 to 3600 to wait for a host's attestations").optional(),
    }), '{"key": "awskms:///alias/…" or a PEM public key, "builders": ["<builder>", …], "builderKeys": {"<builder>": "<key>"}, "waitSeconds": 600}').optional(),
}), '{"sourceRepository": "https://…", "signing": "generate"|"kms", "signerArns": [...], "attestors": {"<builder>": "<key>"}, "verify": {"key": …, "builders": [...], "builderKeys": {…}}}');

export type SupplyChainConfig = z.output<typeof supplyChainConfig>;
