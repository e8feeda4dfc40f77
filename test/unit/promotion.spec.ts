import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as pulumi from "@pulumi/pulumi";
import { parseRef, promotedImages, Promotion, PromotionArgs, StackImageRefs } from "../../components/delivery";
import { evaluate, isSecret, Recorded } from "../../scripts/harness/mocks";
import { evaluateStack } from "../../scripts/harness/evaluateStack";
import { ROOT } from "../../scripts/harness/stackFile";
import { byName, fixtureImages, indexes, plain, SHA } from "./helpers";

const STAGING = "organization/imagefleet/staging";
const ECR = "123456789012.dkr.ecr.eu-west-1.amazonaws.com";
const digest = (c: string) => `sha256:${c.repeat(64)}`;
const stagingRefs: Record<string, string> = {
    "dev-env": `${ECR}/imagefleet/staging/dev-env:${SHA.slice(0, 12)}@${digest("a")}`,
    artifact: `${ECR}/imagefleet/staging/artifact:${SHA.slice(0, 12)}@${digest("b")}`,
    runtime: `${ECR}/imagefleet/staging/runtime:${SHA.slice(0, 12)}@${digest("c")}`,
};
/** A resource consuming a ref, so a failing ref fails the program as it would in `pulumi up`. */
class Consumer extends pulumi.CustomResource {
    constructor(name: string, image: pulumi.Input<string>) {
        super("test:index:Consumer", name, { image });
    }
}

const repositories = Object.fromEntries(Object.keys(stagingRefs).map((i) => [i, `${ECR}/imagefleet/prod/${i}`]));

async function promote(args: Partial<PromotionArgs> = {}, sources: Record<string, string> = stagingRefs): Promise<Recorded[]> {
    const { resources } = await evaluate({
        stack: "prod",
        program: () => new Promotion("p", {
            images: promotedImages(fixtureImages),
            sources,
            sourceName: "stack \"staging\"",
            repositories,
            registry: { address: ECR, username: "AWS", password: "pw" },
            ...args,
        }),
    });
    return resources;
}

/** index.ts on a stack's committed config, with the StackReference answered by `stackOutputs`. */
function runProgram(stack: string, overrides: string[] = [], stackOutputs?: Record<string, Record<string, unknown>>) {
    return evaluateStack(stack, { overrides: [`imagefleet:gitSha=${SHA}`, "imagefleet:gitBranch=main", ...overrides], stackOutputs });
}

describe("Promotion", () => {
    it("publishes staging's digests under the same SHA tag in the target repository, without building", async () => {
        const rs = await promote();
        assert.equal(rs.filter((r) => r.type === "docker-build:index:Image").length, 0);
        for (const [image, ref] of Object.entries(stagingRefs)) {
            const index = plain(byName(rs, `p-${image}`));
            assert.equal(index.tag, `${repositories[image]}:${SHA.slice(0, 12)}`);
            // By digest alone: a tag moved in staging's repository after the refs were read changes nothing.
            assert.deepEqual(index.sources, [ref.replace(/:[0-9a-f]{12}@/, "@")], "the source is staging's digest, without its tag");
            assert.equal(index.push, true);
        }
    });

    it("adds the environment and release tags as aliases of the promoted index", async () => {
        const rs = await promote({ release: "1.4.0" });
        const runtime = byName(rs, "p-runtime");
        assert.equal(plain(byName(rs, "p-runtime-env")).tag, `${repositories.runtime}:prod`);
        assert.deepEqual(plain(byName(rs, "p-runtime-env")).sources, [runtime.state.ref]);
        assert.equal(plain(byName(rs, "p-runtime-release")).tag, `${repositories.runtime}:v1.4.0`);
        assert.equal(indexes(rs).length, 3 * 3);
    });

    it("promotes every variant of an image under variant-suffixed tags; dev-env has none", async () => {
        const images = promotedImages(fixtureImages, ["perf"]);
        assert.deepEqual(images.map((i) => `${i.image}/${i.variant}`), ["dev-env/", "artifact/perf", "runtime/perf"]);
        const sources = { "dev-env": stagingRefs["dev-env"], "artifact-perf": stagingRefs.artifact.replace(/:(\w+)@/, ":$1-perf@"), "runtime-perf": stagingRefs.runtime.replace(/:(\w+)@/, ":$1-perf@") };
        const rs = await promote({ images }, sources);
        assert.equal(plain(byName(rs, "p-runtime-perf")).tag, `${repositories.runtime}:${SHA.slice(0, 12)}-perf`);
        assert.equal(plain(byName(rs, "p-runtime-perf-env")).tag, `${repositories.runtime}:prod-perf`);
    });

    it("keeps promoted manifests in the registry when an index is replaced or deleted, unless told otherwise", async () => {
        const retained = async (retainOnDelete?: boolean) => {
            const { resources } = await evaluate({
                stack: "prod",
                program: () => new Promotion("p", { images: promotedImages(fixtureImages), sources: stagingRefs, repositories, retainOnDelete }),
            });
            return indexes(resources).map((r) => r.options.retainOnDelete);
        };
        const byDefault = await retained();
        assert.equal(byDefault.length, 3 * 2);
        assert.ok(byDefault.every((v) => v === true));
        const optedOut = await retained(false);
        assert.equal(optedOut.length, 3 * 2);
        assert.ok(optedOut.every((v) => v === false));
    });

    it("keeps the registry password secret", async () => {
        for (const r of indexes(await promote())) {
            assert.ok(isSecret(r.inputs.registry) || JSON.stringify(r.inputs.registry).includes("4dabf18193072939515e22adb298388d"), r.name);
        }
    });

    it("fails naming the source and the image when the source has no digest-pinned ref for it", async () => {
        const { runtime: _, ...partial } = stagingRefs;
        await assert.rejects(promote({}, partial), /Promotion "p": stack "staging" has no ref with a tag and a sha256 digest for image "runtime".*it has: artifact, dev-env/);
        await assert.rejects(promote({}, { ...stagingRefs, runtime: `${ECR}/imagefleet/staging/runtime:latest` }), /image "runtime" \(got ".*:latest"\)/);
    });
});

describe("StackImageRefs", () => {
    it("splits refs, registry ports included", () => {
        assert.deepEqual(parseRef(`registry.localhost:5000/a/b:t1@${digest("d")}`), { repository: "registry.localhost:5000/a/b", tag: "t1", digest: digest("d") });
        assert.deepEqual(parseRef(`registry.localhost:5000/a@${digest("d")}`), { repository: "registry.localhost:5000/a", tag: "", digest: digest("d") });
        assert.equal(parseRef("repo:tag"), undefined);
        assert.equal(parseRef("repo:tag@sha256:short"), undefined);
    });

    it("reads an image's ref from another stack and names the stack and the image when it is missing", async () => {
        let got: string | undefined;
        await evaluate({
            stack: "consumer", stackOutputs: { [STAGING]: { refs: stagingRefs } },
            program: () => new StackImageRefs(STAGING).ref("runtime").apply((r) => { got = r; }),
        });
        assert.equal(got, stagingRefs.runtime);
        await assert.rejects(evaluate({
            stack: "consumer", stackOutputs: { [STAGING]: { refs: stagingRefs } },
            program: () => new Consumer("c", new StackImageRefs(STAGING).ref("server")),
        }), /stack "organization\/imagefleet\/staging" has no image "server" in its "refs" output; it has: artifact, dev-env, runtime/);
        await assert.rejects(evaluate({
            stack: "consumer", stackOutputs: { [STAGING]: { other: 1 } },
            program: () => new Consumer("c", new StackImageRefs(STAGING).ref("runtime")),
        }), /Required output 'refs' does not exist on stack 'organization\/imagefleet\/staging'/);
    });
});

describe("the prod stack (promotion only)", () => {
    it("declares no Image build, only promotion of staging's digests, read through a StackReference", async () => {
        const { resources } = await runProgram("prod", [], { [STAGING]: { refs: stagingRefs } });
        assert.equal(resources.filter((r) => r.type === "docker-build:index:Image").length, 0);
        const ref = resources.find((r) => r.type === "pulumi:pulumi:StackReference")!;
        assert.equal(plain(ref).name, STAGING);
        for (const [image, source] of Object.entries(stagingRefs)) {
            const index = plain(byName(resources, `example-${image}`));
            assert.deepEqual(index.sources, [source.replace(/:[0-9a-f]{12}@/, "@")], "copied by digest, not by tag");
            assert.equal(index.tag, `${ECR}/imagefleet/prod/${image}:${SHA.slice(0, 12)}`);
            assert.equal(plain(byName(resources, `example-${image}-env`)).tag, `${ECR}/imagefleet/prod/${image}:prod`);
        }
    });

    it("protects prod's repositories and needs no Dockerfile or builder", async () => {
        const missing = [{ name: "runtime", kind: "runtime", context: "does/not/exist" }];
        const { resources } = await runProgram("prod", [`imagefleet:images=${JSON.stringify(missing)}`], { [STAGING]: { refs: stagingRefs } });
        const repos = resources.filter((r) => r.type === "aws:ecr/repository:Repository").map((r) => [r.name, r.options] as const);
        assert.equal(repos.length, 2);
        assert.ok(repos.every(([, o]) => o.protect === true && o.retainOnDelete === true), JSON.stringify(repos));
        assert.deepEqual(indexes(resources).map((r) => r.name).sort(), ["example-runtime", "example-runtime-env"]);
    });

    it("npm run synth -- --stack prod --json has no Image and has the promotion", () => {
        const r = spawnSync(process.execPath, ["-r", "ts-node/register/transpile-only", "scripts/synth.ts", "--stack", "prod", "--json",
            "--config", "imagefleet:gitSha=0123456789abcdef", "--config", "imagefleet:gitBranch=main"], { cwd: ROOT, encoding: "utf8" });
        assert.equal(r.status, 0, r.stderr);
        assert.ok(!r.stdout.includes("docker-build:index:Image"));
        const resources: any[] = JSON.parse(r.stdout);
        assert.ok(resources.some((x) => x.type === "imagefleet:delivery:Promotion"));
        assert.ok(resources.some((x) => x.type === "pulumi:pulumi:StackReference" && x.name === STAGING));
        assert.equal(resources.filter((x) => x.type === "docker-build:index:Index" && x.parent === "example").length, 6);
    });
});
