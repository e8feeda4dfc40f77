import { strict as assert } from "assert";
import { bakeForStack } from "../../scripts/bake";
import { SHA } from "./helpers";

describe("npm run bake", () => {
    const git = [`imagefleet:gitSha=${SHA}`, "imagefleet:gitBranch=feature-x"];

    it("has one target per image and platform, with the Image's own inputs", async () => {
        const { bake, resources } = await bakeForStack("local", git);
        const images = resources.filter((r) => r.type === "docker-build:index:Image");
        assert.deepEqual(Object.keys(bake.target).sort(), images.map((r) => r.name).sort());
        const t = bake.target["example-artifact-arm64"];
        // The same staged context and Dockerfile the Image reads.
        assert.match(t.context, /^node_modules\/\.cache\/imagefleet\/contexts\/local\/example\/example-[0-9a-f]{8}\/context$/);
        assert.equal(t.dockerfile, "../artifact.Dockerfile");
        assert.deepEqual(t.platforms, ["linux/arm64"]);
        assert.match(t.tags[0], /^registry\.localhost:5000\/imagefleet\/artifact:build-[0-9a-f]{12}-arm64$/);
        assert.equal(t.args?.BUSYBOX_IMAGE, "registry.localhost:5000/base/busybox:1.36");
        assert.deepEqual(t.output, ["type=registry,rewrite-timestamp=true"]);
    });

    it("turns pinned dependencies into target contexts of the same platform", async () => {
        const { bake } = await bakeForStack("local", git);
        assert.deepEqual(bake.target["example-runtime-amd64"].contexts, { artifact: "target:example-artifact-amd64" });
        assert.deepEqual(bake.target["example-artifact-arm64"].contexts, { "dev-env": "target:example-dev-env-arm64" });
    });

    it("carries the cache policy: read branch then main, write only the branch", async () => {
        const { bake } = await bakeForStack("local", git);
        const t = bake.target["example-runtime-arm64"];
        assert.deepEqual(t["cache-from"]?.slice(0, 2), [
            "type=registry,ref=registry.localhost:5000/imagefleet/runtime-cache:feature-x-arm64",
            "type=registry,ref=registry.localhost:5000/imagefleet/runtime-cache:main-arm64",
        ]);
        assert.deepEqual(t["cache-to"], ["type=registry,ref=registry.localhost:5000/imagefleet/runtime-cache:feature-x-arm64,mode=max,image-manifest=true,oci-mediatypes=true"]);
    });

    it("lets a target read the caches of the dependencies it builds in-graph, after its own", async () => {
        const { bake } = await bakeForStack("local", git);
        assert.deepEqual(bake.target["example-runtime-amd64"]["cache-from"], [
            "type=registry,ref=registry.localhost:5000/imagefleet/runtime-cache:feature-x-amd64",
            "type=registry,ref=registry.localhost:5000/imagefleet/runtime-cache:main-amd64",
            "type=registry,ref=registry.localhost:5000/imagefleet/artifact-cache:feature-x-amd64",
            "type=registry,ref=registry.localhost:5000/imagefleet/artifact-cache:main-amd64",
            "type=registry,ref=registry.localhost:5000/imagefleet/dev-env-cache:feature-x-amd64",
            "type=registry,ref=registry.localhost:5000/imagefleet/dev-env-cache:main-amd64",
        ]);
        assert.equal(bake.target["example-dev-env-arm64"]["cache-from"]?.length, 2);
    });

    it("has a group per image and a default group with every target", async () => {
        const { bake, indexes } = await bakeForStack("local", git);
        assert.deepEqual(bake.group["example-runtime"].targets, ["example-runtime-amd64", "example-runtime-arm64"]);
        assert.equal(bake.group.default.targets.length, 6);
        const runtime = indexes.find((i) => i.tags.includes(`registry.localhost:5000/imagefleet/runtime:${SHA.slice(0, 12)}`))!;
        assert.deepEqual(runtime.sources.sort(), [bake.target["example-runtime-amd64"].tags[0], bake.target["example-runtime-arm64"].tags[0]].sort());
        assert.deepEqual(runtime.tags, [`registry.localhost:5000/imagefleet/runtime:${SHA.slice(0, 12)}`, "registry.localhost:5000/imagefleet/runtime:local"],
            "one call per image: the commit's tag and the environment alias");
    });
});
