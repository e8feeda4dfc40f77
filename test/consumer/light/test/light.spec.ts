import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { graphscopeFamily } from "../family";
import { affectedBy, BASE_OF, graphscopeImages, Versions, VERSIONS } from "../graphscope/family";
import { allOf, changedResources, declare, Declared, keyOf, Owned, ownedResources } from "../graphscope/mockEngine";

const ROOT = path.join(__dirname, "..");
const PROGRAM = path.join(ROOT, "index.ts");
const PEERS = ["@pulumi/aws", "@pulumi/github", "@pulumi/tls"];
const IMAGE = "docker-build:index:Image";
const INDEX = "docker-build:index:Index";
const AMD64_ONLY = ["analytical-java", "learning", "store"];

/** Runs the program (index.ts) afresh under the content-addressed mocks. */
function runProgram(versions?: Partial<Versions>): Promise<{ resources: Declared[]; value: Record<string, unknown> }> {
    const config: Record<string, string> = versions ? { "imagefleet-light-consumer:versions": JSON.stringify(versions) } : {};
    return declare(() => {
        delete require.cache[require.resolve(PROGRAM)];
        // eslint-disable-next-line @typescript-eslint/no-require-imports -- the program must load after setMocks, once per run
        return require(PROGRAM) as Record<string, unknown>;
    }, { project: "imagefleet-light-consumer", config });
}

/** Runs Node in this consumer and returns what the snippet printed. */
function node(snippet: string): { stdout: string; stderr: string; status: number | null } {
    const run = spawnSync(process.execPath, ["-e", snippet], { cwd: ROOT, encoding: "utf8" });
    return { stdout: run.stdout, stderr: run.stderr, status: run.status };
}

function valueOf<T>(output: pulumi.Input<T>): Promise<T> {
    return new Promise((resolve) => pulumi.output(output).apply((v) => {
        resolve(v as T);
        return v;
    }));
}

describe("a program that only builds images: imagefleet/images without the optional peers", () => {
    let run: { resources: Declared[]; value: Record<string, unknown> };
    let owned: Map<string, Owned>;
    const find = (key: string): Declared => {
        const found = run.resources.find((r) => keyOf(r) === key);
        assert.ok(found, `no resource ${key}`);
        return found;
    };

    before(async () => {
        run = await runProgram();
        // Which resource belongs to which image, read off the family object.
        owned = await ownedResources((await declare(() => graphscopeFamily(), { project: "imagefleet-light-consumer" })).value);
    });

    it("has none of @pulumi/aws, @pulumi/github and @pulumi/tls installed", () => {
        for (const peer of PEERS) {
            assert.throws(() => require.resolve(peer), /Cannot find module/, `${peer} is installed`);
        }
    });

    it("resolves imagefleet/images to the package's compiled dist/images", () => {
        assert.match(require.resolve("imagefleet/images"), /node_modules[\\/]imagefleet[\\/]dist[\\/]images[\\/]index\.js$/);
    });

    // Besides dist/images: the shared errors and schema, the base of imagefleet's own resources, and the builder check every build waits for (Node's tls, no peer).
    // supplychain/tools: the dynamic providers' tool runner (Node built-ins only), which the family's TagSet uses too.
    const SHARED = ["dist/builders/builderCheck.js", "dist/builders/preflight.js", "dist/errors.js", "dist/fleetResource.js", "dist/schema.js", "dist/supplychain/tools.js"];
    it("loads, for import { ImageFamily } from \"imagefleet/images\", only dist/images and the shared modules of imagefleet, and of @pulumi only pulumi and docker-build", () => {
        const run = node(`require("imagefleet/images"); process.stdout.write(JSON.stringify(Object.keys(require.cache)))`);
        assert.equal(run.status, 0, run.stderr);
        const files = (JSON.parse(run.stdout) as string[]).map((f) => path.relative(ROOT, f));
        const ours = files.filter((f) => f.startsWith(path.join("node_modules", "imagefleet") + path.sep)).map((f) => f.split(path.sep).slice(2).join("/")).sort();
        const packages = [...new Set(files.map((f) => /node_modules[\\/]((?:@[^\\/]+[\\/])?[^\\/]+)/.exec(f)?.[1].replace(/\\/g, "/")).filter((p): p is string => p !== undefined))].sort();
        console.log(`      imagefleet/images loaded ${files.length} modules from ${packages.length} packages; imagefleet's: ${ours.join(" ")}; @pulumi: ${packages.filter((p) => p.startsWith("@pulumi/")).join(" ")}`);
        assert.deepEqual(ours.filter((f) => !f.startsWith("dist/images/") && !SHARED.includes(f)), []);
        assert.ok(ours.includes("dist/images/imageFamily.js"), ours.join(" "));
        assert.deepEqual(packages.filter((p) => p.startsWith("@pulumi/")), ["@pulumi/docker-build", "@pulumi/pulumi"]);
    });

    it("the package entry works without them too: ImageFamily from \"imagefleet\"; BuilderFleet fails naming @pulumi/aws and how to install it", () => {
        const light = node(`const m = require("imagefleet"); process.stdout.write(typeof m.ImageFamily + " " + typeof m.Promotion + " " + typeof m.registry.ghcrRegistry)`);
        assert.equal(light.status, 0, light.stderr);
        assert.equal(light.stdout, "function function function");
        const fleet = node(`require("imagefleet").BuilderFleet`);
        assert.notEqual(fleet.status, 0);
        assert.match(fleet.stderr, /imagefleet: BuilderFleet needs @pulumi\/aws and @pulumi\/tls \(optional peer dependencies of imagefleet\), and @pulumi\/aws is not installed: run `npm install @pulumi\/aws@"\^7\./);
    });

    it("runs under mocks: an Image per image and platform (amd64-only images once), an index per image, one TagSet, a ref per image", async () => {
        const images = graphscopeImages();
        assert.ok(images.length >= 10);
        assert.equal(run.resources.filter((r) => r.type === IMAGE).length, (images.length - AMD64_ONLY.length) * 2 + AMD64_ONLY.length);
        assert.equal(run.resources.filter((r) => r.type === INDEX).length, images.length);
        assert.equal(run.resources.filter((r) => r.type === "pulumi-nodejs:dynamic/images:TagSet").length, 1);
        const refs = await valueOf(run.value.refs as pulumi.Output<Record<string, string>>);
        assert.deepEqual(Object.keys(refs).sort(), images.map((i) => i.name).sort());
        for (const ref of Object.values(refs)) {
            assert.match(ref, /^registry\.example\.com\/graphscope\/[a-z-]+:[^@]+@sha256:[0-9a-f]{64}$/);
        }
    });

    it("builds an image declared platforms: [\"linux/amd64\"] once, and indexes that one build", () => {
        for (const image of AMD64_ONLY) {
            const o = owned.get(image)!;
            assert.deepEqual(Object.keys(o.builds), ["linux/amd64"], image);
            const build = find(o.builds["linux/amd64"]);
            assert.deepEqual(build.inputs.platforms, ["linux/amd64"]);
            assert.deepEqual(find(o.index).inputs.sources, [build.state.ref]);
        }
        assert.equal(find(owned.get("analytical")!.index).inputs.sources.length, 2);
    });

    for (const [version, image] of Object.entries(BASE_OF) as [keyof Versions, string][]) {
        it(`a bump of ${image}'s version in stack config changes ${image} and the images built from it, and nothing else`, async () => {
            const bumped = await runProgram({ [version]: `${VERSIONS[version]}-bumped` });
            const expected = [...affectedBy(graphscopeImages(), image)].flatMap((name) => allOf(owned.get(name)!)).sort();
            const all = [...owned.values()].flatMap(allOf);
            assert.ok(expected.length > 0 && expected.length < all.length, `${expected.length} of ${all.length}`);
            const changed = changedResources(run.resources, bumped.resources);
            const isCheck = (k: string) => k.includes(":BuilderCheck ");
            const isTags = (k: string) => k.includes(":TagSet ");
            assert.deepEqual(changed.filter((k) => !isCheck(k) && !isTags(k)), expected);
            assert.equal(changed.filter(isTags).length, 1, "the commit's tags of the rebuilt images move in the family's TagSet");
            // Plus the builder check of each platform the changed images build on, and no other.
            const platforms = new Set([...affectedBy(graphscopeImages(), image)].flatMap((name) => Object.keys(owned.get(name)!.builds)));
            assert.deepEqual(changed.filter(isCheck).map((k) => k.split("-").pop()).sort(), [...platforms].map((p) => p.split("/")[1]).sort());
        });
    }

    it("the same config twice changes nothing", async () => {
        assert.deepEqual(changedResources(run.resources, (await runProgram(VERSIONS)).resources), []);
    });
});
