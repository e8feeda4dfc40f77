import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";
import { CONFIG_KEY_NAMES, CONFIG_KEYS, ConfigKey } from "../../components/stack/schema";
import { CONFIG_DOC, pulumiDescription, renderConfigReference, renderPulumiYaml } from "../../scripts/configDocs";
import { ROOT } from "../../scripts/harness/stackFile";

const regenerate = "regenerate: npx ts-node --transpile-only scripts/docs.ts";

describe("config reference from the schemas", () => {
    it(`docs/config.md is what the schemas say (${regenerate})`, () => {
        assert.equal(fs.readFileSync(path.join(ROOT, CONFIG_DOC), "utf8"), renderConfigReference());
    });

    it(`Pulumi.yaml declares every key but the secret one, with the schema's description and typed default (${regenerate})`, () => {
        const text = fs.readFileSync(path.join(ROOT, "Pulumi.yaml"), "utf8");
        assert.equal(text, renderPulumiYaml(text));
        const config = (YAML.parse(text) as { config: Record<string, { description: string; default?: unknown }> }).config;
        assert.deepEqual(Object.keys(config).sort(), CONFIG_KEY_NAMES.filter((k) => !("secret" in CONFIG_KEYS[k])).sort());
        for (const key of Object.keys(config) as (keyof typeof CONFIG_KEYS)[]) {
            assert.equal(config[key].description, pulumiDescription(key), key);
            const k: ConfigKey = CONFIG_KEYS[key];
            // Optional keys need a default or the engine demands them; "" means unset.
            assert.deepEqual(config[key].default, k.default === undefined ? undefined : k.projectDefault ?? "", key);
        }
    });

    it("lists every key and the fields of object keys", () => {
        const doc = renderConfigReference();
        for (const key of CONFIG_KEY_NAMES) {
            assert.ok(doc.includes(`| \`imagefleet:${key}\``), key);
        }
        assert.match(doc, /## imagefleet:registry[\s\S]*\| `namespace` \| optional \|/);
        assert.match(doc, /## imagefleet:fleet[\s\S]*\| `vpcId` \| required \| a VPC id such as "vpc-0a1b2c3d4e5f60718" \|/);
    });
});
