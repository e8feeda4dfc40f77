import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { branchSlug } from "../../components/images/policy";
import { evaluate, isSecret } from "../../scripts/harness/mocks";
import { ImageFamily } from "../../components/images";
import { builds, byName, declareFamily, familyArgs, FIXTURE, indexes, plain, SHA } from "./helpers";

describe("ImageFamily", () => {
    it("declares one single-platform build per image and platform, each on that platform's builder", async () => {
        const { resources } = await declareFamily(familyArgs());
        const imgs = builds(resources);
        assert.equal(imgs.length, 3 * 2);
        for (const img of imgs) {
            const i = plain(img);
            assert.equal(i.platforms.length, 1);
            const arch = i.platforms[0] === "linux/amd64" ? "amd64" : "arm64";
            assert.equal(i.builder.name, `b-${arch}`);
            assert.ok(img.name.endsWith(`-${arch}`), img.name);
            assert.equal(i.push, false);
            assert.deepEqual(i.exports, [{ raw: "type=registry,rewrite-timestamp=true" }]);
            assert.equal(img.parent, "fam");
        }
    });

    it("joins each image's platforms in one index, tagged by what it holds", async () => {
        const { resources } = await declareFamily(familyArgs());
        for (const image of ["dev-env", "artifact", "runtime"]) {
            const index = plain(byName(resources, `fam-${image}`));
            assert.match(index.tag, new RegExp(`^registry.test/team/${image}:index-[0-9a-f]{12}$`));
            const sources: string[] = index.sources;
            assert.equal(sources.length, 2);
            assert.ok(sources.some((s) => new RegExp(`^registry.test/team/${image}:build-[0-9a-f]{12}-amd64@sha256:`).test(s)), sources.join());
            assert.ok(sources.some((s) => new RegExp(`^registry.test/team/${image}:build-[0-9a-f]{12}-arm64@sha256:`).test(s)), sources.join());
        }
    });

    it("publishes the commit's tag and the environment alias of every image in one TagSet, pointing at the index", async () => {
        const { resources } = await declareFamily(familyArgs(), "staging");
        const tagSets = resources.filter((r) => r.type === "pulumi-nodejs:dynamic/images:TagSet");
        assert.deepEqual(tagSets.map((r) => [r.name, r.parent]), [["fam-tags", "fam"]]);
        const tags = plain(tagSets[0]).tags as Record<string, string>;
        for (const image of ["dev-env", "artifact", "runtime"]) {
            const digest = (byName(resources, `fam-${image}`).state.ref as string).split("@")[1];
            assert.equal(tags[`registry.test/team/${image}:${SHA.slice(0, 12)}`], `registry.test/team/${image}@${digest}`);
            assert.equal(tags[`registry.test/team/${image}:staging`], `registry.test/team/${image}@${digest}`);
        }
        assert.equal(Object.keys(tags).length, 3 * 2);
        assert.equal(indexes(resources).length, 3, "one index per image, no alias resources");
    });

    it("pins a named context to the digest of the same platform's build of the dependency", async () => {
        const { resources } = await declareFamily(familyArgs());
        for (const arch of ["amd64", "arm64"]) {
            const runtime = plain(byName(resources, `fam-runtime-${arch}`));
            const artifact = byName(resources, `fam-artifact-${arch}`);
            assert.match(artifact.state.digest, /^sha256:[0-9a-f]{64}$/);
            assert.deepEqual(runtime.context.named, {
                artifact: { location: `docker-image://registry.test/team/artifact@${artifact.state.digest}` },
            });
            const devEnv = byName(resources, `fam-dev-env-${arch}`);
            assert.equal(plain(byName(resources, `fam-artifact-${arch}`)).context.named["dev-env"].location,
                `docker-image://registry.test/team/dev-env@${devEnv.state.digest}`);
        }
    });

    it("passes context, dockerfile, target and merged build args through", async () => {
        const images = [
            { name: "dev-env", kind: "dev-env" as const, context: FIXTURE, dockerfile: "dev-env.Dockerfile", target: "tools", buildArgs: { A: "image", B: "image" } },
        ];
        const { resources } = await declareFamily(familyArgs({ images, buildArgs: { A: "family", C: "family" }, platforms: ["linux/amd64"] }));
        const i = plain(byName(resources, "fam-dev-env-amd64"));
        assert.match(i.context.location, /^node_modules\/\.cache\/imagefleet\/contexts\/test\/fam\/family-[0-9a-f]{8}\/context$/);
        assert.equal(i.dockerfile.location, `${path.dirname(i.context.location)}/dev-env.Dockerfile`);
        assert.equal(fs.readFileSync(i.dockerfile.location, "utf8"), fs.readFileSync(`${FIXTURE}/dev-env.Dockerfile`, "utf8"));
        assert.equal(i.target, "tools");
        assert.deepEqual(i.buildArgs, { SOURCE_DATE_EPOCH: "0", A: "image", B: "image", C: "family" });
        assert.equal(i.context.named, undefined);
    });

    it("writes the registry cache of its own branch with mode=max, image manifest and OCI media types", async () => {
        const { resources } = await declareFamily(familyArgs({ git: { branch: "main", sha: SHA } }));
        for (const img of builds(resources)) {
            const i = plain(img);
            const arch = img.name.split("-").pop();
            const repo = `registry.test/team/${i.labels["dev.imagefleet.image"]}-cache`;
            assert.deepEqual(i.cacheTo, [{ registry: { ref: `${repo}:main-${arch}`, mode: "max", imageManifest: true, ociMediaTypes: true } }]);
            assert.deepEqual(i.cacheFrom, [{ registry: { ref: `${repo}:main-${arch}` } }]);
        }
    });

    it("reads the branch's cache before the fallback's and never writes the fallback's on another branch", async () => {
        const { resources } = await declareFamily(familyArgs({ git: { branch: "feature/x", sha: SHA }, cache: { fallbackBranches: ["main", "develop"] } }));
        for (const img of builds(resources)) {
            const i = plain(img);
            const arch = img.name.split("-").pop();
            const refs = i.cacheFrom.map((c: any) => c.registry.ref.split(":").pop());
            // "feature/x" is rewritten, so its slug carries a hash of the real name (feature-x's never will).
            assert.deepEqual(refs, [`${branchSlug("feature/x")}-${arch}`, `main-${arch}`, `develop-${arch}`]);
            assert.match(refs[0], /^feature-x-[0-9a-f]{8}-/);
            assert.equal(i.cacheTo.length, 1);
            assert.equal(i.cacheTo[0].registry.ref.split(":").pop(), refs[0]);
        }
    });

    it("keeps a branch that slugs like main off main's cache ref", async () => {
        const { resources } = await declareFamily(familyArgs({ git: { branch: "Main", sha: SHA } }));
        for (const img of builds(resources)) {
            assert.doesNotMatch(plain(img).cacheTo[0].registry.ref, /:main-(amd64|arm64)$/);
        }
    });

    it("reads but does not write the cache when write is off (pull-request previews)", async () => {
        const { resources } = await declareFamily(familyArgs({ git: { branch: "pr-7", sha: SHA }, cache: { write: false } }));
        for (const img of builds(resources)) {
            assert.equal(plain(img).cacheTo, undefined);
            assert.equal(plain(img).cacheFrom.length, 2);
        }
    });

    it("a pull request's preview needs no setting: with only the CI's target branch set, every build is declared with that branch's cache refs, as the deploy after merging", async () => {
        const saved = process.env.GITHUB_BASE_REF;
        process.env.GITHUB_BASE_REF = "main";
        try {
            const preview = await evaluate({ stack: "test", preview: true, program: () => new ImageFamily("fam", familyArgs({ git: { branch: "feature/y", sha: SHA } })) });
            const deploy = await evaluate({ stack: "test", program: () => new ImageFamily("fam", familyArgs({ git: { branch: "main", sha: SHA } })) });
            for (const img of builds(preview.resources)) {
                const twin = plain(byName(deploy.resources, img.name));
                assert.deepEqual(plain(img).cacheFrom, twin.cacheFrom, img.name);
                assert.deepEqual(plain(img).cacheTo, twin.cacheTo, img.name);
                assert.match(plain(img).cacheTo[0].registry.ref, /:main-(amd64|arm64)$/);
            }
            // An up from the same job still keys the cache on its own branch.
            const up = await evaluate({ stack: "test", program: () => new ImageFamily("fam", familyArgs({ git: { branch: "feature/y", sha: SHA } })) });
            for (const img of builds(up.resources)) {
                assert.doesNotMatch(plain(img).cacheTo[0].registry.ref, /:main-(amd64|arm64)$/);
            }
        } finally {
            if (saved === undefined) {
                delete process.env.GITHUB_BASE_REF;
            } else {
                process.env.GITHUB_BASE_REF = saved;
            }
        }
    });

    it("declares no cache at all when the cache is disabled", async () => {
        const { resources } = await declareFamily(familyArgs({ cache: { disabled: true } }));
        for (const img of builds(resources)) {
            assert.equal(plain(img).cacheTo, undefined);
            assert.equal(plain(img).cacheFrom, undefined);
        }
    });

    it("builds each variant with its own build args, tags and cache refs; dev-env is shared", async () => {
        const variants = { release: { PROFILE: "release" }, perf: { PROFILE: "performance", FEATURES: "failpoints" } };
        const { resources } = await declareFamily(familyArgs({ variants }), "dev");
        assert.equal(builds(resources).length, (1 + 2 + 2) * 2);
        const perf = plain(byName(resources, "fam-runtime-perf-arm64"));
        assert.deepEqual(perf.buildArgs, { SOURCE_DATE_EPOCH: "0", PROFILE: "performance", FEATURES: "failpoints" });
        assert.match(perf.tags[0], /^registry.test\/team\/runtime:build-[0-9a-f]{12}-perf-arm64$/);
        assert.match(plain(byName(resources, "fam-runtime-perf")).tag, /^registry.test\/team\/runtime:index-[0-9a-f]{12}-perf$/);
        assert.equal(perf.cacheTo[0].registry.ref, "registry.test/team/runtime-cache:main-perf-arm64");
        const tags = Object.keys(plain(byName(resources, "fam-tags")).tags);
        assert.ok(tags.includes(`registry.test/team/runtime:${SHA.slice(0, 12)}-perf`) && tags.includes("registry.test/team/runtime:dev-perf"), tags.join(", "));
        const artifactPerf = byName(resources, "fam-artifact-perf-arm64");
        assert.equal(perf.context.named.artifact.location, `docker-image://registry.test/team/artifact@${artifactPerf.state.digest}`);
        const devEnv = byName(resources, "fam-dev-env-arm64");
        assert.equal(plain(artifactPerf).context.named["dev-env"].location, `docker-image://registry.test/team/dev-env@${devEnv.state.digest}`);
        assert.deepEqual(plain(devEnv).buildArgs, { SOURCE_DATE_EPOCH: "0" });
    });

    it("takes an artifact from a local directory instead of an image", async () => {
        const images = [
            { name: "runtime", kind: "runtime" as const, context: FIXTURE, dockerfile: "runtime.Dockerfile", from: { artifact: { local: `${FIXTURE}/local-artifact` } } },
        ];
        const { resources } = await declareFamily(familyArgs({ images }));
        assert.equal(builds(resources).length, 2);
        const named = plain(byName(resources, "fam-runtime-amd64")).context.named;
        assert.match(named.artifact.location, /^node_modules\/\.cache\/imagefleet\/contexts\/test\/fam\/local-artifact-[0-9a-f]{8}\/context$/);
        assert.deepEqual(fs.readdirSync(named.artifact.location), fs.readdirSync(`${FIXTURE}/local-artifact`));
    });

    it("adds a release alias for a semver release", async () => {
        const { resources } = await declareFamily(familyArgs({ tags: { release: "1.4.0" } }), "prod");
        const tags = plain(byName(resources, "fam-tags")).tags as Record<string, string>;
        assert.equal(tags["registry.test/team/runtime:v1.4.0"], tags["registry.test/team/runtime:prod"]);
        assert.equal(tags["registry.test/team/runtime:v1.4.0"], tags[`registry.test/team/runtime:${SHA.slice(0, 12)}`]);
    });

    it("uses explicit repositories (e.g. ECR URLs) and their cache repositories", async () => {
        const registry = {
            address: "1.dkr.ecr.eu-west-1.amazonaws.com",
            repositories: { runtime: "1.dkr.ecr.eu-west-1.amazonaws.com/rt" },
            cacheRepositories: { runtime: "1.dkr.ecr.eu-west-1.amazonaws.com/cache/rt" },
        };
        const { resources } = await declareFamily(familyArgs({ registry }));
        const rt = plain(byName(resources, "fam-runtime-amd64"));
        assert.match(rt.tags[0], /^1\.dkr\.ecr\.eu-west-1\.amazonaws\.com\/rt:build-[0-9a-f]{12}-amd64$/);
        assert.equal(rt.cacheTo[0].registry.ref, "1.dkr.ecr.eu-west-1.amazonaws.com/cache/rt:main-amd64");
        assert.match(plain(byName(resources, "fam-runtime")).tag, /^1\.dkr\.ecr\.eu-west-1\.amazonaws\.com\/rt:index-[0-9a-f]{12}$/);
        assert.ok(`1.dkr.ecr.eu-west-1.amazonaws.com/rt:${SHA.slice(0, 12)}` in plain(byName(resources, "fam-tags")).tags);
        assert.match(plain(byName(resources, "fam-dev-env-amd64")).tags[0], /^1\.dkr\.ecr\.eu-west-1\.amazonaws\.com\/dev-env:build-[0-9a-f]{12}-amd64$/);
    });

    it("keeps the registry password secret in builds, indexes and the tag set", async () => {
        const { resources } = await declareFamily(familyArgs({ registry: { address: "registry.test", username: "ci", password: "hunter2" } }));
        for (const r of [...builds(resources), ...indexes(resources), byName(resources, "fam-tags")]) {
            const creds = r.type.endsWith("Image") ? r.inputs.registries : r.inputs.registry;
            const flat = JSON.stringify(creds);
            assert.ok(isSecret(creds) || flat.includes("4dabf18193072939515e22adb298388d"), `${r.name} leaks the password`);
            const pw = plain(r).registries?.[0]?.password ?? plain(r).registry?.password;
            assert.equal(pw, "hunter2");
        }
    });

    it("does not push or index when push is off", async () => {
        const { resources } = await declareFamily(familyArgs({ push: false }));
        assert.equal(indexes(resources).length, 0);
        assert.ok(builds(resources).every((b) => plain(b).push === false && plain(b).exports === undefined));
    });

    it("exposes multi-platform and per-platform refs as outputs", async () => {
        const { family } = await declareFamily(familyArgs());
        const refs = await new Promise<Record<string, string>>((resolve) => family.refs.apply(resolve));
        const platformRefs = await new Promise<Record<string, Record<string, string>>>((resolve) => family.platformRefs.apply(resolve));
        assert.deepEqual(Object.keys(refs).sort(), ["artifact", "dev-env", "runtime"]);
        assert.match(refs.runtime, new RegExp(`^registry.test/team/runtime:${SHA.slice(0, 12)}@sha256:[0-9a-f]{64}$`));
        assert.deepEqual(Object.keys(platformRefs.runtime).sort(), ["linux/amd64", "linux/arm64"]);
        assert.throws(() => family.image("nope"), /no image "nope"; valid: dev-env, artifact, runtime/);
    });

    it("does not build during preview unless asked", async () => {
        const { resources } = await declareFamily(familyArgs());
        assert.ok(builds(resources).every((b) => plain(b).buildOnPreview === false));
        const on = await declareFamily(familyArgs({ buildOnPreview: true }));
        assert.ok(builds(on.resources).every((b) => plain(b).buildOnPreview === true));
    });
});

describe("ImageFamily retain policy", () => {
    async function retained(retainOnDelete?: boolean): Promise<Map<string, boolean | undefined>> {
        const { resources } = await declareFamily(familyArgs({ retainOnDelete }));
        return new Map(resources.map((r) => [`${r.type} ${r.name}`, r.options.retainOnDelete]));
    }

    it("keeps every pushed image, index and tag in the registry on delete by default", async () => {
        const seen = await retained();
        const children = [...seen].filter(([k]) => k.startsWith("docker-build:") || k.includes(":TagSet "));
        assert.equal(children.length, 6 + 3 + 1);
        assert.ok(children.every(([, v]) => v === true), JSON.stringify(children));
    });

    it("lets the user opt out", async () => {
        const seen = await retained(false);
        const children = [...seen].filter(([k]) => k.startsWith("docker-build:") || k.includes(":TagSet "));
        assert.equal(children.length, 6 + 3 + 1);
        assert.ok(children.every(([, v]) => v === false));
    });
});
