import * as pulumi from "@pulumi/pulumi";
import type * as awsTypes from "@pulumi/aws";
import { Problems } from "../errors";
import { CosignKeyPair } from "./resources";
import { SigningMaterial, VerifyingMaterial } from "./tools";

/** Arguments of `SigningKey`. */
export interface SigningKeyArgs {
    /**
     * `generate`: a cosign key pair made by `cosign generate-key-pair` and kept
     * as Pulumi secrets (the local stack). `kms`: an AWS KMS key
     * (ECC_NIST_P256, SIGN_VERIFY) this stack declares; only `signerArns` may
     * sign with it. Required.
     */
    readonly kind: "generate" | "kms";
    /** IAM role ARNs allowed to sign (`kms` only): the stack's deploy roles. Default: none (at least one is needed for `kms`). */
    readonly signerArns?: pulumi.Input<pulumi.Input<string>[]>;
    /** KMS alias, without `alias/` (`kms` only). Default: `imagefleet-<stack>-cosign`. */
    readonly alias?: string;
    /** Days before a deleted KMS key is destroyed (`kms` only). Default: `30`. */
    readonly deletionWindowInDays?: number;
}

/**
 * Actions on the key for account administrators: everything but signing, and
 * no `kms:CreateGrant` (a grant could hand out Sign around the key policy).
 */
const KEY_ADMIN_ACTIONS = [
    "kms:CreateAlias", "kms:Describe*", "kms:Enable*", "kms:List*", "kms:Put*", "kms:Update*", "kms:Revoke*", "kms:Disable*",
    "kms:Get*", "kms:Delete*", "kms:TagResource", "kms:UntagResource", "kms:ScheduleKeyDeletion", "kms:CancelKeyDeletion",
];

/**
 * The signing key's policy: the account administers the key and anyone in
 * it may read the public key and verify, but only the signers may `kms:Sign`:
 * the key policy grants Sign to them alone (so no IAM policy can grant it to
 * another principal, such as the read-only preview role), and an explicit
 * Deny refuses Sign to every other principal.
 */
export function signingKeyPolicy(accountId: string, partition: string, signerArns: readonly string[]): Record<string, unknown> {
    const root = `arn:${partition}:iam::${accountId}:root`;
    return {
        Version: "2012-10-17",
        Statement: [
            { Sid: "AccountAdministersTheKey", Effect: "Allow", Principal: { AWS: root }, Action: KEY_ADMIN_ACTIONS, Resource: "*" },
            { Sid: "AccountMayVerify", Effect: "Allow", Principal: { AWS: root }, Action: ["kms:GetPublicKey", "kms:DescribeKey", "kms:Verify"], Resource: "*" },
            { Sid: "DeployRolesSign", Effect: "Allow", Principal: { AWS: [...signerArns] }, Action: ["kms:Sign", "kms:GetPublicKey", "kms:DescribeKey"], Resource: "*" },
            {
                Sid: "NobodyElseSigns", Effect: "Deny", Principal: { AWS: "*" }, Action: "kms:Sign", Resource: "*",
                Condition: { ArnNotEquals: { "aws:PrincipalArn": [...signerArns] } },
            },
        ],
    };
}

export function validateSigningKey(name: string, args: SigningKeyArgs, stack = pulumi.getStack()): void {
    const p = new Problems();
    if (args.kind !== "generate" && args.kind !== "kms") {
        p.add(`kind: ${JSON.stringify(args.kind)} is not valid; valid: "generate", "kms"`);
    }
    if (args.kind === "kms" && (args.signerArns === undefined || (Array.isArray(args.signerArns) && args.signerArns.length === 0))) {
        p.add("signerArns: at least one role ARN that may sign is required for kind \"kms\" (the stack's deploy roles)");
    }
    if (args.alias !== undefined && !/^[A-Za-z0-9/_-]{1,250}$/.test(args.alias)) {
        p.add(`alias: ${JSON.stringify(args.alias)} is not a KMS alias name ([A-Za-z0-9/_-], without "alias/")`);
    }
    p.throwIfAny(`SigningKey ${JSON.stringify(name)}`, stack);
}

/**
 * The key a stack signs its images with: a generated cosign key pair (kept as
 * Pulumi secrets) or an AWS KMS key the stack declares.
 */
export class SigningKey extends pulumi.ComponentResource {
    /** Identifies the key: a hash of the public key, or the KMS key ARN. */
    public readonly keyId: pulumi.Output<string>;
    /** What signs: key material (secret) or a KMS ref. */
    public readonly signing: pulumi.Output<SigningMaterial>;
    /** What verifies: the public key PEM, or the KMS ref. */
    public readonly verifying: pulumi.Output<VerifyingMaterial>;
    /** For `cosign verify --key`: the public key PEM (`generate`) or `awskms:///<arn>` (`kms`). */
    public readonly verifyKey: pulumi.Output<string>;

    constructor(name: string, args: SigningKeyArgs, opts?: pulumi.ComponentResourceOptions) {
        validateSigningKey(name, args);
        super("imagefleet:supplychain:SigningKey", name, {}, opts);
        if (args.kind === "generate") {
            const pair = new CosignKeyPair(`${name}-cosign`, { parent: this });
            this.keyId = pair.keyId;
            this.signing = pulumi.secret(pulumi.all([pair.privateKey, pair.password]).apply(([privateKey, password]) => ({ privateKey, password })));
            this.verifying = pair.publicKey.apply((publicKey) => ({ publicKey }));
            this.verifyKey = pair.publicKey;
        } else {
            // @pulumi/aws is an optional peer: loaded only for a KMS key, so a generated key pair needs only @pulumi/pulumi.
            // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded on first use, which `import` cannot express
            const aws = require("@pulumi/aws") as typeof awsTypes;
            const caller = aws.getCallerIdentityOutput({}, { parent: this });
            const partition = aws.getPartitionOutput({}, { parent: this }).partition;
            const key = new aws.kms.Key(`${name}-cosign`, {
                description: `cosign signing key of imagefleet stack ${pulumi.getStack()}: signs image indexes and attestations`,
                customerMasterKeySpec: "ECC_NIST_P256",
                keyUsage: "SIGN_VERIFY",
                deletionWindowInDays: args.deletionWindowInDays ?? 30,
                policy: pulumi.all([caller.accountId, partition, args.signerArns!])
                    .apply(([account, part, signers]) => JSON.stringify(signingKeyPolicy(account, part, signers))),
            }, { parent: this, protect: pulumi.getStack() === "prod" });
            new aws.kms.Alias(`${name}-cosign`, { name: `alias/${args.alias ?? `imagefleet-${pulumi.getStack()}-cosign`}`, targetKeyId: key.keyId }, { parent: this });
            const ref = pulumi.interpolate`awskms:///${key.arn}`;
            this.keyId = key.arn;
            this.signing = ref.apply((keyRef) => ({ keyRef }));
            this.verifying = ref.apply((keyRef) => ({ keyRef }));
            this.verifyKey = ref;
        }
        this.registerOutputs({ keyId: this.keyId, verifyKey: this.verifyKey });
    }
}
