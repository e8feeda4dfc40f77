import * as fs from "fs";
import * as pulumi from "@pulumi/pulumi";
import { Issue } from "../errors";
import { PromotionVerify } from "../delivery";
import { AttestorKey, SigningKey, VerifyingMaterial } from "../supplychain";
import type { SupplyChainConfig } from "../supplychain/schema";
import { ConfigValues, readConfigValues, StackConfig, throwConfigIssues } from "./config";

export type { SupplyChainConfig } from "../supplychain/schema";

export interface SupplyChainSettings {
    /** `imagefleet:supplychain`, checked; undefined: no signing, no verification. */
    readonly config?: SupplyChainConfig;
}

/**
 * `imagefleet:supplychain` as settings, and the rules across keys: KMS only
 * on a cloud stack and with someone to sign, signing only on a building
 * stack, verification only on a promoting one.
 */
/** `hasDeployRoles` is undefined when imagefleet:delivery has problems of its own: whether it declares roles is then unknown. */
export function supplyChainSettingsOf(config: StackConfig, read: ConfigValues, promoteFrom: string | undefined, hasDeployRoles: boolean | undefined): { settings: SupplyChainSettings; issues: Issue[] } {
    const issues: Issue[] = [];
    const sc = read.values.supplychain as SupplyChainConfig | undefined;
    if (sc === undefined) {
        return { settings: {}, issues };
    }
    const at = (...path: string[]) => ["supplychain", ...path];
    if (sc.signing === "kms" && config.stack === "local") {
        issues.push({ path: at("signing"), message: "the local stack has no cloud account; use \"generate\"" });
    }
    if (sc.signing !== undefined && promoteFrom !== undefined) {
        issues.push({ path: at("signing"), message: "a promoting stack builds and signs nothing; set verify instead" });
    }
    if (sc.signing === "kms" && hasDeployRoles === false && (sc.signerArns ?? []).length === 0) {
        issues.push({ path: at("signerArns"), message: "no role may sign: this stack declares no deploy role (imagefleet:delivery.environments), so list the role ARNs that sign" });
    }
    if (sc.signerArns !== undefined && sc.signing !== "kms") {
        issues.push({ path: at("signerArns"), message: "only with \"signing\": \"kms\"" });
    }
    if (sc.attestors !== undefined && sc.signing === undefined) {
        issues.push({ path: at("attestors"), message: "only on a building stack that signs (\"signing\" set): the builders' attestations replace its per-build records" });
    }
    for (const [field, keys] of [["attestors", sc.attestors], ["builderKeys", sc.verify?.builderKeys]] as const) {
        for (const [builder, key] of Object.entries(keys ?? {})) {
            if (key.startsWith("/") && !fs.existsSync(key)) {
                const path = field === "attestors" ? at("attestors", builder) : at("verify", "builderKeys", builder);
                issues.push({ path, message: `${key} does not exist (test/e2e/buildkitd.sh attestors start writes each host's key there)` });
            }
        }
    }
    if (sc.verify !== undefined && promoteFrom === undefined) {
        issues.push({ path: at("verify"), message: "only a promoting stack (imagefleet:promoteFrom set) verifies sources" });
    }
    return { settings: { config: sc }, issues };
}

/** Reads `imagefleet:supplychain`; one error naming each bad key and the stack. */
export function loadSupplyChainSettings(config: StackConfig, promoteFrom: string | undefined, hasDeployRoles = false): SupplyChainSettings {
    const { settings, issues } = supplyChainSettingsOf(config, readConfigValues(), promoteFrom, hasDeployRoles);
    throwConfigIssues(issues, config.stack);
    return settings;
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

/** The builders that attest their own builds, with the keys that verify them: the fleet's hosts (`imagefleet:fleet.attestor`), then `imagefleet:supplychain.attestors`, which wins for a builder in both. */
export function attestorsFor(settings: SupplyChainSettings, fleet: Readonly<Record<string, AttestorKey>> = {}): Record<string, AttestorKey> | undefined {
    const attestors = { ...fleet, ...Object.fromEntries(Object.entries(settings.config?.attestors ?? {}).map(([builder, key]) => [builder, materialOf(key)])) };
    return Object.keys(attestors).length === 0 ? undefined : attestors;
}

/** A key as the config gives it: `awskms://…`, a PEM, or the path of a `.pub` file. */
function materialOf(key: string): VerifyingMaterial {
    return key.startsWith("awskms://") ? { keyRef: key } : { publicKey: key.startsWith("/") ? fs.readFileSync(key, "utf8") : key };
}

/**
 * What a promoting stack verifies its sources against, from
 * `imagefleet:supplychain.verify`; `attested` is the source stack's
 * `supplychain.attestedBy` (what its hosts attest).
 */
export function promotionVerifyFor(settings: SupplyChainSettings, attested?: PromotionVerify["attested"]): PromotionVerify | undefined {
    const sc = settings.config;
    if (sc?.verify === undefined) {
        return undefined;
    }
    const key: VerifyingMaterial = sc.verify.key.startsWith("awskms://") ? { keyRef: sc.verify.key } : { publicKey: sc.verify.key };
    return {
        key, policy: { sourceRepository: sc.sourceRepository, builders: sc.verify.builders },
        builderKeys: sc.verify.builderKeys === undefined ? undefined : Object.fromEntries(Object.entries(sc.verify.builderKeys).map(([b, k]) => [b, materialOf(k)])),
        attested, waitSeconds: sc.verify.waitSeconds,
    };
}
