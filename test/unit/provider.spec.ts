// imagefleet's provider plugin (issue 31): the schema other languages read,
// the inputs it turns into ImageFamilyArgs, and its custom resources, which
// run the same behaviour objects a TypeScript program's dynamic resources do.
import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { ValidationError } from "../../components/errors";
import { registerAsProviderResources } from "../../components/fleetResource";
import { ImageFamily } from "../../components/images";
import { SUPPORTED_PLATFORMS } from "../../components/images/platforms";
import { IMAGE_KINDS } from "../../components/images/types";
import { TagSet } from "../../components/images/tagSet";
import { imageFamilyArgs, SPLIT_FIELDS } from "../../components/provider/inputs";
import { imagefleetProvider, RESOURCES, reseal } from "../../components/provider/provider";
import { unseal } from "../../components/provider/secrets";
import { evaluate } from "../../scripts/harness/mocks";
import { COMPONENTS, missingFields, schemaText, SCHEMA_FILE, SHAPES, tsFields } from "../../scripts/schema";
import { familyArgs } from "./helpers";
import * as pulumi from "@pulumi/pulumi";

const ROOT = path.join(__dirname, "..", "..");
const SECRET = { "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270" };

describe("provider plugin: the schema", () => {
    it("schema.json is what `npm run schema` writes (run it after changing an Args doc or field)", () => {
        assert.equal(fs.readFileSync(SCHEMA_FILE, "utf8"), schemaText());
    });

    it("every field of each mirrored Args interface has a schema field (splits counted)", () => {
        for (const [token, shape] of Object.entries({ ...SHAPES, ...COMPONENTS })) {
            assert.deepEqual(missingFields(shape), [], `${token} (${shape.ts}) lacks schema fields`);
        }
    });

    it("the check fails for a field added to an interface without the schema", () => {
        const dir = fs.mkdtempSync(path.join(ROOT, "test", "fixtures", ".schema-"));
        try {
            const file = path.join(dir, "args.ts");
            fs.writeFileSync(file, "export interface FooArgs {\n    /** A. Required. */\n    readonly a: string;\n    /** B, new. Default: none. */\n    readonly b?: string;\n}\n");
            const ts = `${path.relative(ROOT, file)}#FooArgs`;
            assert.deepEqual(missingFields({ ts, properties: { a: { type: "string" } } }), ["b"]);
            assert.deepEqual(missingFields({ ts, properties: { a: { type: "string" }, b: { type: "string" } } }), []);
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });

    it("fields take their descriptions from the TypeScript doc comments", () => {
        const schema = JSON.parse(fs.readFileSync(SCHEMA_FILE, "utf8"));
        const family = schema.resources["imagefleet:images:ImageFamily"];
        assert.equal(family.isComponent, true);
        assert.equal(family.inputProperties.push.description, tsFields("components/images/types.ts#ImageFamilyArgs").get("push"));
        assert.match(family.inputProperties.sourceDateEpoch.description, /SOURCE_DATE_EPOCH/);
        const values = (token: string) => schema.types[token].enum.map((e: { value: string }) => e.value);
        assert.deepEqual(values("imagefleet:images:ImageKind"), IMAGE_KINDS);
        assert.deepEqual(values("imagefleet:images:Platform"), SUPPORTED_PLATFORMS);
        assert.equal(schema.types["imagefleet:images:RegistrySpec"].properties.password.secret, true);
        for (const out of Object.keys(family.properties)) {
            assert.ok(tsFields("components/images/imageFamily.ts#ImageFamily").has(out), `output ${out} is an ImageFamily field`);
        }
    });

    it("splits only fields whose TypeScript type is a union", () => {
        assert.deepEqual(SPLIT_FIELDS, { builderPools: "builders", fromContexts: "from" });
    });
});

describe("provider plugin: ImageFamily inputs", () => {
    const base = { images: [{ name: "a", kind: "dev-env", context: "." }], registry: { address: "r" }, git: { branch: "main", sha: "abcdef1" } };

    it("joins builders and builderPools, from and fromContexts", () => {
        const args = imageFamilyArgs("fam", {
            ...base,
            builders: { "linux/amd64": "x" }, builderPools: { "linux/arm64": ["y", "z"] },
            images: [
                { name: "a", kind: "dev-env", context: ".", from: ["b"] },
                { name: "c", kind: "runtime", context: ".", fromContexts: { art: { image: "b" }, src: { local: "src" } } },
            ],
        });
        assert.deepEqual(args.builders, { "linux/amd64": "x", "linux/arm64": ["y", "z"] });
        assert.deepEqual(args.images[0].from, ["b"]);
        assert.deepEqual(args.images[1].from, { art: { image: "b" }, src: { local: "src" } });
        assert.ok(!("builderPools" in args) && !("fromContexts" in args.images[1]));
    });

    it("refuses a platform in both builders and builderPools, and a context with both or neither source", () => {
        assert.throws(() => imageFamilyArgs("fam", { ...base, builders: { "linux/amd64": "x" }, builderPools: { "linux/amd64": ["y"] } }),
            /ImageFamily "fam" \(stack "[^"]*"\) is invalid:\n {2}- builders\.linux\/amd64: also set in builderPools; valid: one builder \(builders\) or one pool \(builderPools\) per platform/);
        assert.throws(() => imageFamilyArgs("fam", { ...base, images: [{ name: "a", kind: "runtime", context: ".", fromContexts: { x: { image: "b", local: "c" } } }] }),
            /images\[0\]\.fromContexts\.x: must set exactly one of image \(an image of the family\) or local/);
        assert.throws(() => imageFamilyArgs("fam", { ...base, images: [{ name: "a", kind: "runtime", context: ".", from: ["b"], fromContexts: {} }] }),
            /images\[0\]: sets both from and fromContexts; valid: from \(image names\) or fromContexts/);
    });

    it("refuses images that arrive as an output (they decide which resources exist)", () => {
        assert.throws(() => imageFamilyArgs("fam", { ...base, images: pulumi.output(base.images) }),
            (e: Error) => e instanceof ValidationError && /- images: must be a plain value when the program runs, not an output of another resource or a secret/.test(e.message));
    });
});

describe("provider plugin: imagefleet's resources", () => {
    afterEach(() => registerAsProviderResources(false));

    it("every FleetResource subclass has a behaviour the plugin serves", () => {
        const tokens: string[] = [];
        for (const file of fs.readdirSync(path.join(ROOT, "components"), { recursive: true }) as string[]) {
            const text = file.endsWith(".ts") ? fs.readFileSync(path.join(ROOT, "components", file), "utf8") : "";
            for (const cls of text.split(/\bclass \w+ extends FleetResource\b/).slice(1)) {
                const m = /"(\w+)", "(\w+)"\);/.exec(cls);
                assert.ok(m, `${file}: a FleetResource's super call names its module and type`);
                tokens.push(`imagefleet:${m[1]}:${m[2]}`);
            }
        }
        assert.deepEqual(tokens.sort(), Object.keys(RESOURCES).sort());
    });

    it("registers dynamic resources in a TypeScript program, the plugin's custom resources inside the plugin", async () => {
        const declare = async () => (await evaluate({ stack: "test", program: () => { new TagSet("t", { tags: { "r/a:1": "r/a@sha256:" + "1".repeat(64) } }); } }))
            .resources.find((r) => r.name === "t")!;
        const dynamic = await declare();
        assert.equal(dynamic.type, "pulumi-nodejs:dynamic/images:TagSet");
        assert.equal(typeof dynamic.inputs.__provider, "string");
        registerAsProviderResources();
        const custom = await declare();
        assert.equal(custom.type, "imagefleet:images:TagSet");
        assert.ok(!("__provider" in custom.inputs));
    });

    it("a family constructed in the plugin declares its TagSet and builder checks as the plugin's resources", async () => {
        registerAsProviderResources();
        const { resources } = await evaluate({ stack: "test", program: () => { new ImageFamily("fam", familyArgs()); } });
        const ours = resources.filter((r) => r.type.startsWith("imagefleet:") && r.type !== "imagefleet:images:ImageFamily").map((r) => r.type);
        assert.ok(ours.includes("imagefleet:images:TagSet") && ours.includes("imagefleet:builders:BuilderCheck"), ours.join(", "));
        assert.ok(!resources.some((r) => r.type.startsWith("pulumi-nodejs:")), "no dynamic resource inside the plugin");
    });

    it("unseal takes secret markers off; reseal marks an output secret when its input was", () => {
        const inputs = { tags: { a: "b" }, registry: { ...SECRET, value: { username: "u", password: "p" } } };
        assert.deepEqual(unseal(inputs), { tags: { a: "b" }, registry: { username: "u", password: "p" } });
        assert.deepEqual(reseal({ tags: { a: "b" }, registry: { username: "u", password: "p" } }, inputs),
            { tags: { a: "b" }, registry: { ...SECRET, value: { username: "u", password: "p" } } });
    });

    describe("CRUD through the plugin (a stand-in docker records the copies)", () => {
        let dir = "";
        before(() => {
            dir = fs.mkdtempSync(path.join(os.tmpdir(), "imagefleet-provider-"));
            fs.writeFileSync(path.join(dir, "docker"), `#!/bin/sh\necho "$@" >> ${dir}/calls\n`, { mode: 0o755 });
            process.env.IMAGEFLEET_DOCKER = path.join(dir, "docker");
        });
        after(() => {
            delete process.env.IMAGEFLEET_DOCKER;
            fs.rmSync(dir, { recursive: true, force: true });
        });

        const urn = "urn:pulumi:test::p::imagefleet:images:ImageFamily$imagefleet:images:TagSet::fam-tags";
        const target = `r/a@sha256:${"1".repeat(64)}`;

        it("create and update run the TagSet's behaviour with plain values and keep the registry secret", async () => {
            const p = imagefleetProvider("0.0.0");
            const inputs = { tags: { "r/a:1": target }, registry: { ...SECRET, value: { address: "r", username: "u", password: "p" } } };
            const created = await p.create!(urn, inputs);
            assert.equal(created.id, "tags");
            assert.deepEqual(created.outs.registry, inputs.registry);
            assert.match(fs.readFileSync(path.join(dir, "calls"), "utf8"), /imagetools create -t r\/a:1 r\/a@sha256:1{64}/);
            const same = await p.diff!("tags", urn, created.outs, inputs);
            assert.equal(same.changes, false);
            const moved = await p.diff!("tags", urn, created.outs, { ...inputs, tags: { "r/a:1": target, "r/a:dev": target } });
            assert.equal(moved.changes, true);
        });

        it("names the types it serves for an unknown one", async () => {
            await assert.rejects(imagefleetProvider("0").create!("urn:pulumi:s::p::imagefleet:images:Nope::n", {}),
                /unknown resource type imagefleet:images:Nope; it serves imagefleet:images:TagSet/);
        });
    });
});
