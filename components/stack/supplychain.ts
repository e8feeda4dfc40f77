import * as pulumi from "@pulumi/pulumi";
import { listOf } from "../errors";
import { PromotionVerify } from "../delivery";
import { SigningKey, VerifyingMaterial } from "../supplychain";
import { ConfigReader, StackConfig } from "./config";

/** `imagefleet:supplychain` as a stack file holds it. */
export interface SupplyChainConfig {
    /** Repository URL every provenance names, and the one a promotion expects. */
    readonly sourceRepository?: string;
    /** Building stacks: `generate` (a cosign key pair kept as secrets; local), `kms` (an AWS KMS key this stack declares). */
    readonly signing?: "generate" | "kms";
    /** `kms`: role ARNs that may sign besides this stack's deploy roles (e.g. the administrator who bootstraps). */
    readonly signerArns?: string[];
    /** Promoting stacks: what every source is verified against before a tag moves. */
    readonly verify?: {
        /** `awskms:///<arn or alias>` or a PEM public key. */
        readonly key?: string;
        /** Builder names a per-platform provenance may name. */
        readonly builders?: string[];
    };
}

const KEYS = ["sourceRepository", "signing", "signerArns", "verify"];
const REPO_URL = /^(https?|ssh|git):\/\/\S+$/;

export interface SupplyChainSettings {
    readonly config?: SupplyChainConfig;
}

/**
 * Reads and checks `imagefleet:supplychain` before anything is declared; one
 * error naming each bad key and the stack. Unset: no signing, no verification.
 */
export function loadSupplyChainSettings(config: StackConfig, promoteFrom: string | undefined, hasDeployRoles = false): SupplyChainSettings {
    const r = new ConfigReader();
    const key = r.key("supplychain");
    const sc = r.object<SupplyChainConfig>("supplychain", (v) => {
        if (typeof v !== "object" || v === null || Array.isArray(v)) {
            return `must be an object ({"sourceRepository": "https://…", "signing": "generate"|"kms", "verify": {…}}), got ${JSON.stringify(v)}`;
        }
        const unknown = Object.keys(v).filter((k) => !KEYS.includes(k));
        return unknown.length > 0 ? `unknown ${listOf(unknown)}; valid: ${listOf(KEYS)}` : undefined;
    });
    if (sc === undefined) {
        r.throwIfAny();
        return {};
    }
    if (typeof sc.sourceRepository !== "string" || !REPO_URL.test(sc.sourceRepository)) {
        r.problems.add(`${key}.sourceRepository: ${JSON.stringify(sc.sourceRepository)} is not a repository URL such as "https://github.com/example-org/imagefleet"`);
    }
    if (sc.signing !== undefined && sc.signing !== "generate" && sc.signing !== "kms") {
        r.problems.add(`${key}.signing: ${JSON.stringify(sc.signing)} is not valid; valid: "generate", "kms"`);
    }
    if (sc.signing === "kms" && config.stack === "local") {
        r.problems.add(`${key}.signing: the local stack has no cloud account; use "generate"`);
    }
    if (sc.signing !== undefined && promoteFrom !== undefined) {
        r.problems.add(`${key}.signing: a promoting stack builds and signs nothing; set ${key}.verify instead`);
    }
    if (sc.signing === "kms" && !hasDeployRoles && (sc.signerArns ?? []).length === 0) {
        r.problems.add(`${key}.signerArns: no role may sign: this stack declares no deploy role (${r.key("delivery")}.environments), so list the role ARNs that sign`);
    }
    if (sc.signerArns !== undefined && (sc.signing !== "kms" || !Array.isArray(sc.signerArns) || sc.signerArns.some((a) => !/^arn:aws[a-z-]*:iam::\d{12}:role\/\S+$/.test(a)))) {
        r.problems.add(`${key}.signerArns: only with "signing": "kms", a list of IAM role ARNs (arn:aws:iam::<account>:role/<name>)`);
    }
    if (sc.verify !== undefined) {
        if (promoteFrom === undefined) {
            r.problems.add(`${key}.verify: only a promoting stack (${r.key("promoteFrom")} set) verifies sources`);
        }
        const k = sc.verify.key;
        if (typeof k !== "string" || !(k.startsWith("awskms://") || k.includes("-----BEGIN PUBLIC KEY-----"))) {
            r.problems.add(`${key}.verify.key: must be "awskms:///<key arn or alias/name>" or a PEM public key ("-----BEGIN PUBLIC KEY-----…"), got ${JSON.stringify(k)}`);
        }
        if (!Array.isArray(sc.verify.builders) || sc.verify.builders.length === 0 || sc.verify.builders.some((b) => typeof b !== "string" || b === "")) {
            r.problems.add(`${key}.verify.builders: a list of the buildx builder names the source stack builds on (e.g. ["imagefleet-staging-amd64", "imagefleet-staging-arm64"])`);
        }
    }
    r.throwIfAny();
    return { config: sc };
}

/** The stack's signing key when `imagefleet:supplychain.signing` is set. */
export function signingKeyFor(settings: SupplyChainSettings, deployRoleArns: pulumi.Input<string[]> | undefined): SigningKey | undefined {
    const sc = settings.config;
    if (sc?.signing === undefined) {
        return undefined;
    }
    if (sc.signing === "generate") {
        return new SigningKey("imagefleet-signing", { kind: "generate" });
    }
    const signers = pulumi.all([deployRoleArns ?? [], sc.signerArns ?? []]).apply(([deploy, extra]) => [...deploy, ...extra]);
    return new SigningKey("imagefleet-signing", { kind: "kms", signerArns: signers });
}

/** What a promoting stack verifies its sources against, from `imagefleet:supplychain.verify`. */
export function promotionVerifyFor(settings: SupplyChainSettings): PromotionVerify | undefined {
    const sc = settings.config;
    if (sc?.verify === undefined) {
        return undefined;
    }
    const key: VerifyingMaterial = sc.verify.key!.startsWith("awskms://") ? { keyRef: sc.verify.key! } : { publicKey: sc.verify.key! };
    return { key, policy: { sourceRepository: sc.sourceRepository!, builders: sc.verify.builders! } };
}
