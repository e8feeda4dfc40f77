/**
 * Writes `schema.json`, the Pulumi package schema of imagefleet's provider
 * plugin (`pulumi-resource-imagefleet`): the shapes below, with every
 * description taken from the doc comment of the TypeScript field it mirrors,
 * so a YAML, Python or Go user reads what a TypeScript user reads.
 *
 *   npm run schema            rewrite schema.json
 *   npm run schema -- --check fail when schema.json is not what this writes
 *
 * Where a TypeScript field takes a union a schema cannot carry in every
 * language (`string | string[]`, `string[] | Record<…>`), the schema splits
 * it into two fields and the provider joins them (components/provider/inputs.ts).
 * test/unit/schema.spec.ts fails when an `Args` field has no schema field.
 */
import * as fs from "fs";
import * as path from "path";
import * as ts from "typescript";
import { SUPPORTED_PLATFORMS } from "../components/images/platforms";
import { IMAGE_KINDS } from "../components/images/types";
import { PACKAGE } from "../components/fleetResource";
import { SPLIT_FIELDS } from "../components/provider/inputs";

const ROOT = path.resolve(__dirname, "..");
export const SCHEMA_FILE = path.join(ROOT, "schema.json");

type Prop = {
    type?: "string" | "integer" | "number" | "boolean" | "array" | "object";
    $ref?: string;
    items?: Prop;
    additionalProperties?: Prop;
    secret?: boolean;
    description?: string;
};

/** A schema object type and the TypeScript interface its fields mirror. */
export interface Shape {
    /** `<file>#<Interface>`, relative to the repository; `undefined` when TypeScript has no named type (an inline union member). */
    readonly ts?: string;
    readonly description?: string;
    readonly properties: Record<string, Prop>;
    readonly required?: readonly string[];
    /** Descriptions for fields with no TypeScript field (the second half of a split). */
    readonly docs?: Record<string, string>;
}

const str: Prop = { type: "string" };
const bool: Prop = { type: "boolean" };
const int: Prop = { type: "integer" };
const strMap: Prop = { type: "object", additionalProperties: str };
const strList: Prop = { type: "array", items: str };
const ref = (name: string): Prop => ({ $ref: `#/types/${PACKAGE}:images:${name}` });
const any: Prop = { $ref: "pulumi.json#/Any" };

const TYPES = "components/images/types.ts";

/** Object types, by token. */
export const SHAPES: Record<string, Shape> = {
    "images:ImageSpec": {
        ts: `${TYPES}#ImageSpec`,
        properties: {
            name: str, kind: ref("ImageKind"), context: str, dockerfile: str, target: str, buildArgs: strMap,
            from: strList, fromContexts: { type: "object", additionalProperties: ref("FromContext") },
            variants: bool, platforms: { type: "array", items: ref("Platform") },
        },
        required: ["name", "kind", "context"],
        docs: {
            from: "Names of other images of the family, each taken as a named build context of the same name. Default: none.",
            fromContexts: "Named build contexts: context name to another image of the family or a local directory. Default: none.",
        },
    },
    "images:FromContext": {
        description: "A named build context: another image of the family, or a local directory. Exactly one of the two.",
        properties: { image: str, local: str },
        docs: {
            image: "Name of another image of the family.",
            local: "Local directory, relative to the program's working directory (or `baseDir`).",
        },
    },
    "images:RegistrySpec": {
        ts: `${TYPES}#RegistrySpec`,
        properties: {
            address: str, namespace: str, username: str, password: { type: "string", secret: true },
            repositories: strMap, cacheRepositories: strMap,
        },
        required: ["address"],
    },
    "images:GitSpec": { ts: `${TYPES}#GitSpec`, properties: { branch: str, sha: str }, required: ["branch", "sha"] },
    "images:CacheSpec": {
        ts: `${TYPES}#CacheSpec`,
        properties: { disabled: bool, fallbackBranches: strList, write: bool, deployBranch: str },
    },
    "images:TagSpec": { ts: `${TYPES}#TagSpec`, properties: { environment: str, release: str } },
    "images:ContextLimits": { ts: "components/images/contexts/report.ts#ContextLimits", properties: { maxBytes: int, maxFiles: int } },
};

/** `dev-env` → `DevEnv`, `linux/arm/v7` → `LinuxArmV7`: the name SDKs give an enum value. */
const enumName = (value: string) => value.split(/[/-]/).map((w) => w[0].toUpperCase() + w.slice(1)).join("");

/** Enums, by token: the values TypeScript accepts (from the same constants), and a description. */
export const ENUMS: Record<string, { readonly values: readonly string[]; readonly description: string }> = {
    "images:ImageKind": { values: IMAGE_KINDS, description: "What an image holds: toolchains, what was compiled, or what ships." },
    "images:Platform": { values: SUPPORTED_PLATFORMS, description: "A target platform, built natively on a builder of its own architecture." },
    "images:Checks": { values: ["warn", "error", "off"], description: "What BuildKit's Dockerfile checks do to a family." },
};

/** Components, by token: their inputs mirror an `Args` interface, their outputs the class's fields. */
export const COMPONENTS: Record<string, Shape & { readonly outputs: Record<string, Prop>; readonly outputsTs: string }> = {
    "images:ImageFamily": {
        ts: `${TYPES}#ImageFamilyArgs`,
        description: "A family of multi-platform images (dev-env, artifact, runtime), each platform built natively on its own builder, with a registry cache that works commit after commit.",
        properties: {
            images: { type: "array", items: ref("ImageSpec") },
            platforms: { type: "array", items: ref("Platform") },
            builders: strMap,
            builderPools: { type: "object", additionalProperties: strList },
            registry: ref("RegistrySpec"), git: ref("GitSpec"), buildArgs: strMap,
            variants: { type: "object", additionalProperties: strMap },
            cache: ref("CacheSpec"), tags: ref("TagSpec"), push: bool, buildOnPreview: bool, retainOnDelete: bool,
            baseDir: str, stageDir: str, sourceDateEpoch: int, contextLimits: ref("ContextLimits"),
            checks: ref("Checks"), previousRecord: str,
        },
        required: ["images", "registry", "git"],
        docs: {
            builders: "One buildx builder name per platform (`linux/amd64`, `linux/arm64`). Each platform in `platforms` needs a builder here or a pool in `builderPools`.",
            builderPools: "A pool of buildx builder names per platform, each builder taking a share of the platform's builds (rendezvous hashing of image and variant). Default: none.",
        },
        outputsTs: "components/images/imageFamily.ts#ImageFamily",
        outputs: {
            refs: strMap,
            platformRefs: { type: "object", additionalProperties: strMap },
            record: str,
            review: { type: "array", items: any },
            placement: { type: "object", additionalProperties: { type: "object", additionalProperties: strList } },
        },
    },
};

/** Doc comments of a TypeScript interface's or class's fields (`file#Name`). */
export function tsFields(where: string): Map<string, string> {
    const [file, name] = where.split("#");
    const source = ts.createSourceFile(file, fs.readFileSync(path.join(ROOT, file), "utf8"), ts.ScriptTarget.ES2022, true);
    const fields = new Map<string, string>();
    const visit = (node: ts.Node): void => {
        if ((ts.isInterfaceDeclaration(node) || ts.isClassDeclaration(node)) && node.name?.text === name) {
            for (const m of node.members) {
                if ((ts.isPropertySignature(m) || ts.isPropertyDeclaration(m)) && m.name && ts.isIdentifier(m.name)) {
                    const doc = ts.getJSDocCommentsAndTags(m).filter(ts.isJSDoc).map((d) => ts.getTextOfJSDocComment(d.comment) ?? "").join("\n");
                    if (!(ts.getCombinedModifierFlags(m) & (ts.ModifierFlags.Private | ts.ModifierFlags.Protected))) {
                        fields.set(m.name.text, doc.replace(/\s+/g, " ").trim());
                    }
                }
            }
        }
        ts.forEachChild(node, visit);
    };
    visit(source);
    if (fields.size === 0) {
        throw new Error(`${where}: no such interface or class with fields`);
    }
    return fields;
}

function describe(props: Record<string, Prop>, where: string | undefined, docs: Record<string, string> = {}): Record<string, Prop> {
    const fields = where === undefined ? new Map<string, string>() : tsFields(where);
    return Object.fromEntries(Object.entries(props).map(([k, p]) => {
        const description = docs[k] ?? fields.get(k);
        if (!description) {
            throw new Error(`${where ?? "schema"}: field ${k} has no doc comment and no schema doc`);
        }
        return [k, { ...p, description }];
    }));
}

/** The schema, as `pulumi package gen-sdk` and the YAML host read it. */
export function buildSchema(version: string): Record<string, unknown> {
    const types: Record<string, unknown> = {};
    for (const [token, e] of Object.entries(ENUMS)) {
        types[`${PACKAGE}:${token}`] = { type: "string", description: e.description, enum: e.values.map((value) => ({ name: enumName(value), value })) };
    }
    for (const [token, s] of Object.entries(SHAPES)) {
        types[`${PACKAGE}:${token}`] = {
            type: "object", description: s.description ?? `See \`${s.ts?.split("#")[1]}\` in the TypeScript package.`,
            properties: describe(s.properties, s.ts, s.docs), required: s.required,
        };
    }
    const resources: Record<string, unknown> = {};
    for (const [token, c] of Object.entries(COMPONENTS)) {
        resources[`${PACKAGE}:${token}`] = {
            isComponent: true, description: c.description,
            inputProperties: describe(c.properties, c.ts, c.docs), requiredInputs: c.required,
            properties: describe(c.outputs, c.outputsTs), required: Object.keys(c.outputs),
        };
    }
    return {
        name: PACKAGE, version, displayName: "imagefleet",
        description: "Families of multi-platform container images built natively on BuildKit hosts, with a registry cache across commits.",
        license: "Apache-2.0", repository: "https://github.com/imagefleet/imagefleet",
        language: { nodejs: { packageName: "imagefleet" }, python: { packageName: "pulumi_imagefleet" }, go: { importBasePath: "github.com/imagefleet/imagefleet/sdk/go/imagefleet" } },
        types, resources,
    };
}

export function schemaText(): string {
    const version = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")).version as string;
    return `${JSON.stringify(buildSchema(version), null, 2)}\n`;
}

/** Every TypeScript field of a shape that the schema has no field for (splits counted). */
export function missingFields(s: Shape): string[] {
    if (s.ts === undefined) {
        return [];
    }
    const have = new Set(Object.keys(s.properties).map((k) => SPLIT_FIELDS[k] ?? k));
    return [...tsFields(s.ts).keys()].filter((k) => !have.has(k));
}

if (require.main === module) {
    const text = schemaText();
    if (process.argv.includes("--check")) {
        if (fs.readFileSync(SCHEMA_FILE, "utf8") !== text) {
            console.error("schema.json is stale: run `npm run schema`");
            process.exit(1);
        }
    } else {
        fs.writeFileSync(SCHEMA_FILE, text);
        console.log(`wrote ${path.relative(process.cwd(), SCHEMA_FILE)}`);
    }
}
