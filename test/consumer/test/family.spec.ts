import { strict as assert } from "assert";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { digestOf, ECR_HOST, Recorded, Run, runProgram, valueOf } from "./mocks";

const PLATFORMS = { amd64: "linux/amd64", arm64: "linux/arm64" } as const;
const IMAGES = ["dev-env", "artifact", "api", "worker"];
const RUNTIMES = ["api", "worker"];
const PREFIX = "acme/dev";

/** Recorded resource inputs: untyped RPC payloads. */
type Inputs = Record<string, any>;

describe("a program that imports imagefleet", () => {
    let run: Run;
    const ofType = (type: string): Recorded[] => run.resources.filter((r) => r.type === type);
    const named = (name: string): Recorded => {
        const found = run.resources.find((r) => r.name === name);
        assert.ok(found, `no resource ${name}; have ${run.resources.map((r) => r.name).join(", ")}`);
        return found;
    };
    const inputs = (name: string): Inputs => named(name).inputs as Inputs;

    before(async () => {
        run = await runProgram(path.join(__dirname, "..", "index.ts"));
    });

    it("loads the package's compiled entry, not its sources", () => {
        const entry = require.resolve("imagefleet");
        assert.match(entry, /node_modules[\\/]imagefleet[\\/]dist[\\/]index\.js$/);
    });

    it("declares each component once, with the expected number of resources of each type", () => {
        const counts: Record<string, number> = {};
        for (const r of run.resources) {
            counts[r.type] = (counts[r.type] ?? 0) + 1;
        }
        const expected: Record<string, number> = {
            "imagefleet:images:ImageFamily": 1,
            "imagefleet:builders:BuilderFleet": 1,
            "imagefleet:registry:EcrRegistry": 1,
            // Four images, each built once per platform.
            "docker-build:index:Image": IMAGES.length * 2,
            // Per image: its multi-platform index; the commit's tags of all of them in one TagSet.
            "docker-build:index:Index": IMAGES.length,
            "pulumi-nodejs:dynamic/images:TagSet": 1,
            // Per image: an image repository and a cache repository; cache repositories get lifecycle rules.
            "aws:ecr/repository:Repository": IMAGES.length * 2,
            "aws:ecr/lifecyclePolicy:LifecyclePolicy": IMAGES.length,
            // One host per platform, each with its network interface, and one buildx builder per platform.
            "aws:ec2/instance:Instance": 2,
            "aws:ec2/networkInterface:NetworkInterface": 2,
            "pulumi-nodejs:dynamic/builders:BuildxRegistration": 2,
        };
        for (const [type, count] of Object.entries(expected)) {
            assert.equal(counts[type] ?? 0, count, `${type}: ${counts[type] ?? 0} declared, expected ${count}`);
        }
    });

    it("gives every image an image repository and a cache repository in ECR", () => {
        const repositories = ofType("aws:ecr/repository:Repository").map((r) => r.inputs.name).sort();
        assert.deepEqual(repositories, IMAGES.flatMap((i) => [`${PREFIX}/${i}`, `${PREFIX}/${i}-cache`]).sort());
    });

    it("builds each image per platform on that platform's fleet builder, pushing to its ECR repository", () => {
        for (const image of IMAGES) {
            for (const [arch, platform] of Object.entries(PLATFORMS)) {
                const build = inputs(`app-${image}-${arch}`);
                assert.deepEqual(build.platforms, [platform]);
                assert.equal(build.builder.name, `fleet-${arch}`, `${image} on ${platform}`);
                // One per-platform tag in the image's repository; how it is derived is the unit tier's business.
                assert.equal(build.tags.length, 1);
                assert.ok(build.tags[0].startsWith(`${ECR_HOST}/${PREFIX}/${image}:`) && build.tags[0].endsWith(`-${arch}`), build.tags[0]);
                assert.equal(build.cacheTo[0].registry.ref, `${ECR_HOST}/${PREFIX}/${image}-cache:main-${arch}`);
            }
        }
    });

    it("registers one buildx builder per platform, named after the fleet, and exports them", async () => {
        const registrations = ofType("pulumi-nodejs:dynamic/builders:BuildxRegistration").map((r) => [r.inputs.platform, r.inputs.builderName]).sort();
        assert.deepEqual(registrations, [["linux/amd64", "fleet-amd64"], ["linux/arm64", "fleet-arm64"]]);
        // A pool per platform (one host each here): each host's builder name, and `ready` once it is registered.
        const builders = run.outputs.builders as Record<string, pulumi.Input<{ name: string; ready: pulumi.Input<string> }[]>>;
        for (const arch of ["amd64", "arm64"]) {
            assert.deepEqual(await valueOf(builders[`linux/${arch}`]), [{ name: `fleet-${arch}`, ready: `fleet-${arch}` }]);
        }
    });

    it("pins both runtimes to the artifact built for the same platform, by digest", () => {
        for (const runtime of RUNTIMES) {
            for (const arch of Object.keys(PLATFORMS)) {
                const build = inputs(`app-${runtime}-${arch}`);
                assert.deepEqual(Object.keys(build.context.named), ["artifact"]);
                assert.equal(build.context.named.artifact.location, `docker-image://${ECR_HOST}/${PREFIX}/artifact@${digestOf(`app-artifact-${arch}`)}`);
            }
            assert.equal(inputs(`app-${runtime}-amd64`).target, runtime);
        }
        // The artifact itself is compiled in the dev-env of its platform.
        for (const arch of Object.keys(PLATFORMS)) {
            assert.equal(inputs(`app-artifact-${arch}`).context.named["dev-env"].location, `docker-image://${ECR_HOST}/${PREFIX}/dev-env@${digestOf(`app-dev-env-${arch}`)}`);
        }
    });

    it("joins the platforms of each image into one index, publishes the commit's tag for it, and exports its ref", async () => {
        const refs = await valueOf(run.outputs.refs as pulumi.Output<Record<string, string>>);
        assert.deepEqual(Object.keys(refs).sort(), [...IMAGES].sort());
        const tags = inputs("app-tags").tags as Record<string, string>;
        for (const image of IMAGES) {
            const index = inputs(`app-${image}`);
            assert.match(index.tag, new RegExp(`^${ECR_HOST}/${PREFIX}/${image}:index-[0-9a-f]{12}$`));
            assert.equal(tags[`${ECR_HOST}/${PREFIX}/${image}:0123456789ab`], `${ECR_HOST}/${PREFIX}/${image}@${digestOf(`app-${image}`)}`);
            // Exactly the per-platform builds, by the ref (`tag@digest`) each one reported.
            assert.deepEqual(index.sources, Object.keys(PLATFORMS).map((arch) => {
                const build = named(`app-${image}-${arch}`);
                assert.equal(build.state.ref, `${(build.inputs.tags as string[])[0]}@${digestOf(`app-${image}-${arch}`)}`);
                return build.state.ref;
            }));
            assert.equal(refs[image], `${ECR_HOST}/${PREFIX}/${image}:0123456789ab@${digestOf(`app-${image}`)}`);
        }
    });

    it("lets the fleet's hosts push to the family's repositories and no others", () => {
        const policy = JSON.parse(String(inputs("fleet-policy").policy)) as { Statement: { Sid: string; Resource: string[] }[] };
        const repositories = policy.Statement.find((s) => s.Sid === "FamilyRepositories")!.Resource.map((arn) => arn.split(":repository/")[1]).sort();
        assert.deepEqual(repositories, IMAGES.flatMap((i) => [`${PREFIX}/${i}`, `${PREFIX}/${i}-cache`]).sort());
    });
});
