import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import * as provider from "@pulumi/pulumi/provider";
import { buildxProvider } from "../builders/registration";
import { builderCheckProvider } from "../builders/builderCheck";
import { kubernetesBuilderProvider } from "../builders/kubernetesBuilder";
import { providerToken } from "../fleetResource";
import { ImageFamily } from "../images/imageFamily";
import { tagSetProvider } from "../images/tagSet";
import { indexAttestationProvider, keyPairProvider, platformAttestationProvider } from "../supplychain/providers";
import { verificationProvider } from "../supplychain/verifyProvider";
import { imageFamilyArgs } from "./inputs";
import { holdsSecret, isSecret, SECRET_SIG, SIG_KEY, unseal } from "./secrets";

/**
 * imagefleet's provider plugin: it constructs the components for programs in
 * any language (`construct`), and serves imagefleet's own resources as custom
 * resources whose create, diff, update and delete are the very provider
 * objects a TypeScript program's dynamic resources run (one implementation).
 */

/** Resource type token → its behaviour. */
export const RESOURCES: Readonly<Record<string, pulumi.dynamic.ResourceProvider>> = {
    [providerToken("images", "TagSet")]: tagSetProvider,
    [providerToken("builders", "BuildxRegistration")]: buildxProvider,
    [providerToken("builders", "BuilderCheck")]: builderCheckProvider,
    [providerToken("builders", "KubernetesBuilder")]: kubernetesBuilderProvider,
    [providerToken("supplychain", "CosignKeyPair")]: keyPairProvider,
    [providerToken("supplychain", "PlatformAttestation")]: platformAttestationProvider,
    [providerToken("supplychain", "IndexAttestation")]: indexAttestationProvider,
    [providerToken("supplychain", "SourceVerification")]: verificationProvider,
};

/**
 * Outputs with each field that came in secret marked secret again: the plugin
 * tells the engine it takes secrets, so the engine leaves marking them to it.
 */
export function reseal(outs: Record<string, unknown> | undefined, inputs: Record<string, unknown>): Record<string, unknown> {
    return Object.fromEntries(Object.entries(outs ?? {}).map(([k, v]) =>
        [k, holdsSecret(inputs[k]) && !isSecret(v) && v !== undefined ? { [SIG_KEY]: SECRET_SIG, value: v } : v]));
}

function typeOf(urn: string): string {
    // urn:pulumi:<stack>::<project>::<qualified type>::<name>; the last type is the resource's own.
    const qualified = urn.split("::")[2] ?? "";
    return qualified.split("$").pop() ?? qualified;
}

function behaviour(urn: string): pulumi.dynamic.ResourceProvider {
    const b = RESOURCES[typeOf(urn)];
    if (b === undefined) {
        throw new Error(`imagefleet provider: unknown resource type ${typeOf(urn)}; it serves ${Object.keys(RESOURCES).join(", ")}`);
    }
    return b;
}

type Props = Record<string, unknown>;

/** The plugin's schema, written by scripts/schema.ts and shipped beside dist/. */
export function readSchema(): string {
    return fs.readFileSync(path.join(__dirname, "..", "..", "schema.json"), "utf8");
}

export function imagefleetProvider(version: string): provider.Provider {
    return {
        version,
        getSchema: async () => readSchema(),
        async check(urn, olds: Props, news: Props) {
            const b = behaviour(urn);
            if (!b.check) {
                return { inputs: news };
            }
            const r = await b.check(unseal(olds), unseal(news));
            return { inputs: r.inputs === undefined ? news : reseal(r.inputs, news), failures: r.failures };
        },
        async diff(id, urn, olds: Props, news: Props) {
            const b = behaviour(urn);
            if (!b.diff) {
                // As the dynamic provider does: no diff method, the engine compares inputs.
                return {};
            }
            return b.diff(id, unseal(olds), unseal(news));
        },
        async create(urn, inputs: Props) {
            const r = await behaviour(urn).create(unseal(inputs));
            return { id: r.id, outs: reseal(r.outs, inputs) };
        },
        async read(id, urn, props?: Props) {
            const b = behaviour(urn);
            if (!b.read) {
                return { id, props };
            }
            const r = await b.read(id, unseal(props ?? {}));
            return { id: r.id, props: reseal(r.props, props ?? {}) };
        },
        async update(id, urn, olds: Props, news: Props) {
            const b = behaviour(urn);
            const r = b.update ? await b.update(id, unseal(olds), unseal(news)) : undefined;
            return { outs: reseal(r?.outs ?? news, news) };
        },
        async delete(id, urn, props: Props) {
            await behaviour(urn).delete?.(id, unseal(props));
        },
        async construct(name, type, inputs, options) {
            if (type === providerToken("images", "ImageFamily")) {
                const family = new ImageFamily(name, imageFamilyArgs(name, inputs), options);
                return {
                    urn: family.urn,
                    state: {
                        refs: family.refs, platformRefs: family.platformRefs, record: family.record,
                        review: family.review, placement: family.placement,
                    },
                };
            }
            throw new Error(`imagefleet provider: unknown component ${type}; it constructs ${providerToken("images", "ImageFamily")}`);
        },
    };
}
