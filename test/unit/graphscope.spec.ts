import { strict as assert } from "assert";
import { ImageFamily, ImageFamilyArgs } from "../../components/images";
import { affectedBy, BASE_OF, graphscopeImages, Versions, VERSIONS } from "../fixtures/graphscope/family";
import { allOf, changedResources, declare, Declared, keyOf, Owned, ownedResources } from "../fixtures/graphscope/mockEngine";
import { builds, declareFamily, familyArgs, fixtureImages, indexes, plain, SHA } from "./helpers";

const IMAGE = "docker-build:index:Image";
const INDEX = "docker-build:index:Index";
const AMD64_ONLY = ["analytical-java", "learning", "store"];

function graphscopeArgs(versions: Versions = VERSIONS): ImageFamilyArgs {
    return {
        images: graphscopeImages(versions),
        builders: { "linux/amd64": "gs-amd64", "linux/arm64": "gs-arm64" },
        registry: { address: "registry.test", namespace: "graphscope" },
        git: { branch: "main", sha: SHA },
        buildArgs: { BASE_IMAGE: "registry.test/mirror/debian:bookworm", RUNTIME_BASE_IMAGE: "registry.test/mirror/debian:bookworm-slim" },
    };
}

interface Evaluated {
    readonly resources: Declared[];
    readonly family: ImageFamily;
    /** Per image name: its builds (per platform), its index and the index's aliases. */
    readonly owned: Map<string, Owned>;
}

async function evaluateGraphScope(versions: Versions = VERSIONS): Promise<Evaluated> {
    const { resources, value: family } = await declare(() => new ImageFamily("gs", graphscopeArgs(versions)));
    return { resources, family, owned: await ownedResources(family) };
}

const find = (e: Evaluated, key: string): Declared => {
    const found = e.resources.find((r) => keyOf(r) === key);
    assert.ok(found, `no resource ${key}`);
    return found;
};
const buildOf = (e: Evaluated, image: string, platform: string): Declared => {
    const key = e.owned.get(image)?.builds[platform];
    assert.ok(key, `${image} has no ${platform} build`);
    return find(e, key);
};
const indexOf = (e: Evaluated, image: string): Declared => find(e, e.owned.get(image)!.index);

describe("a GraphScope-shaped family (test/fixtures/graphscope)", () => {
    let base: Evaluated;
    before(async () => {
        base = await evaluateGraphScope();
    });

    it("has at least 10 images: an Image per image and platform, amd64-only images once, an index per image, and one TagSet for the commit's tags", () => {
        const images = graphscopeImages();
        assert.ok(images.length >= 10, `${images.length} images`);
        assert.deepEqual(images.filter((i) => i.platforms).map((i) => i.name).sort(), AMD64_ONLY.sort());
        const count = (type: string) => base.resources.filter((r) => r.type === type).length;
        assert.equal(count(IMAGE), (images.length - AMD64_ONLY.length) * 2 + AMD64_ONLY.length);
        assert.equal(count(INDEX), images.length);
        assert.equal(count("pulumi-nodejs:dynamic/images:TagSet"), 1);
        // Every resource the family declared belongs to exactly one of its images (the diff below relies on it).
        const owned = [...base.owned.values()].flatMap(allOf);
        assert.equal(new Set(owned).size, owned.length);
        assert.deepEqual(owned.sort(), base.resources.filter((r) => r.type === IMAGE || r.type === INDEX).map(keyOf).sort());
    });

    it("builds an amd64-only image once, on the amd64 builder, and indexes that one build", () => {
        for (const image of AMD64_ONLY) {
            assert.deepEqual(Object.keys(base.family.image(image).builds), ["linux/amd64"], image);
            const build = buildOf(base, image, "linux/amd64");
            assert.deepEqual(build.inputs.platforms, ["linux/amd64"]);
            assert.equal(build.inputs.builder.name, "gs-amd64");
            assert.deepEqual(indexOf(base, image).inputs.sources, [build.state.ref], image);
        }
        // Control: an image on both platforms has two builds and two sources.
        assert.deepEqual(Object.keys(base.family.image("analytical").builds).sort(), ["linux/amd64", "linux/arm64"]);
        assert.equal(indexOf(base, "analytical").inputs.sources.length, 2);
    });

    it("pins an amd64-only image's contexts to the amd64 builds of the images it takes", () => {
        const learning = buildOf(base, "learning", "linux/amd64");
        for (const dep of ["dev", "vineyard-runtime"]) {
            assert.match(learning.inputs.context.named[dep].location, new RegExp(`^docker-image://registry\\.test/graphscope/${dep}@`));
            assert.ok(learning.inputs.context.named[dep].location.endsWith(`@${buildOf(base, dep, "linux/amd64").state.digest}`), dep);
        }
    });

    it("evaluates deterministically: the same versions twice change no resource", async () => {
        assert.deepEqual(changedResources(base.resources, (await evaluateGraphScope()).resources), []);
    });

    it("the oracle: a vineyard-runtime bump rebuilds the engines on it, not the dev chain, the frontend, the wheel or the utilities", () => {
        assert.deepEqual([...affectedBy(graphscopeImages(), "vineyard-runtime")].sort(),
            ["analytical", "analytical-java", "interactive-executor", "learning", "vineyard-runtime"]);
    });

    for (const [version, image] of Object.entries(BASE_OF) as [keyof Versions, string][]) {
        it(`bumping ${image} (a build arg) changes the inputs of ${image} and of the images built from it, and no others`, async () => {
            const bumped = await evaluateGraphScope({ ...VERSIONS, [version]: `${VERSIONS[version]}-bumped` });
            const affected = affectedBy(graphscopeImages(), image);
            const expected = [...affected].flatMap((name) => allOf(base.owned.get(name)!)).sort();
            const all = [...base.owned.values()].flatMap(allOf);
            assert.ok(expected.length > 0 && expected.length < all.length, `${expected.length} of ${all.length}: the bump must select a proper subset`);
            const changed = changedResources(base.resources, bumped.resources);
            const isCheck = (k: string) => k.includes(":BuilderCheck ");
            const isTags = (k: string) => k.includes(":TagSet ");
            assert.deepEqual(changed.filter((k) => !isCheck(k) && !isTags(k)), expected);
            assert.equal(changed.filter(isTags).length, 1, "the commit's tags of the rebuilt images move");
            // And the builder check of each platform those images build on, so the engine asks exactly those builders.
            const platforms = new Set([...affected].flatMap((name) => Object.keys(base.family.image(name).builds)));
            assert.deepEqual(changed.filter(isCheck).map((k) => k.split("-").pop()).sort(), [...platforms].map((p) => p.split("/")[1]).sort());
            // The change travels as digests: each direct dependent's context names the base's new build.
            for (const dependent of graphscopeImages().filter((i) => i.from?.includes(image))) {
                for (const platform of Object.keys(bumped.family.image(dependent.name).builds)) {
                    const location: string = buildOf(bumped, dependent.name, platform).inputs.context.named[image].location;
                    assert.ok(location.endsWith(`@${buildOf(bumped, image, platform).state.digest}`), `${dependent.name} ${platform}: ${location}`);
                    assert.notEqual(location, buildOf(base, dependent.name, platform).inputs.context.named[image].location);
                }
            }
        });
    }
});

describe("per-image platforms (ImageSpec.platforms)", () => {
    it("an image declared platforms: [\"linux/amd64\"] declares one Image, on the amd64 builder, and its index has one source", async () => {
        const images = fixtureImages.map((i) => (i.name === "runtime" ? { ...i, platforms: ["linux/amd64" as const] } : i));
        const { resources, family } = await declareFamily(familyArgs({ images }));
        const runtime = family.image("runtime");
        assert.deepEqual(Object.keys(runtime.builds), ["linux/amd64"]);
        const runtimeBuilds = builds(resources).filter((r) => plain(r).labels["dev.imagefleet.image"] === "runtime");
        assert.equal(runtimeBuilds.length, 1);
        assert.deepEqual(plain(runtimeBuilds[0]).platforms, ["linux/amd64"]);
        assert.equal(plain(runtimeBuilds[0]).builder.name, "b-amd64");
        const runtimeIndex = indexes(resources).find((r) => plain(r).sources.includes(runtimeBuilds[0].state.ref));
        assert.ok(runtimeIndex, "no index takes the runtime's build");
        assert.deepEqual(plain(runtimeIndex).sources, [runtimeBuilds[0].state.ref]);
        // The others keep the family's two platforms.
        assert.equal(builds(resources).length, 2 + 2 + 1);
    });

    it("with variants, an amd64-only image builds once per variant, each indexed alone", async () => {
        const images = fixtureImages.map((i) => (i.name === "runtime" ? { ...i, platforms: ["linux/amd64" as const] } : i));
        const { family } = await declareFamily(familyArgs({ images, variants: { release: { PROFILE: "release" }, perf: { PROFILE: "performance" } } }));
        for (const variant of ["release", "perf"]) {
            assert.deepEqual(Object.keys(family.image("runtime", variant).builds), ["linux/amd64"], variant);
        }
        assert.deepEqual(Object.keys(family.image("artifact", "perf").builds).sort(), ["linux/amd64", "linux/arm64"]);
    });

    it("an arm64-only image takes its context from the arm64 build of a two-platform image", async () => {
        const images = fixtureImages.map((i) => (i.name === "runtime" ? { ...i, platforms: ["linux/arm64" as const] } : i));
        const { resources } = await declareFamily(familyArgs({ images }));
        const runtime = builds(resources).find((r) => plain(r).labels["dev.imagefleet.image"] === "runtime")!;
        const armArtifact = builds(resources).find((r) => plain(r).labels["dev.imagefleet.image"] === "artifact" && plain(r).platforms[0] === "linux/arm64")!;
        assert.deepEqual(plain(runtime).platforms, ["linux/arm64"]);
        assert.ok(plain(runtime).context.named.artifact.location.endsWith(`@${armArtifact.state.digest}`));
    });
});
