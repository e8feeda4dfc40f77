// A platform team's Pulumi program built from the published package: ECR
// repositories, native BuildKit hosts for both platforms, and one family of
// images — a dev-env, ONE artifact compiled in it, and TWO runtime images that
// both take that artifact — built on the fleet and pushed to the repositories.
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { BuilderFleet, EcrRegistry, ImageFamily, ImageSpec } from "imagefleet";

const config = new pulumi.Config();
const app = path.join(__dirname, "app");

export const images: ImageSpec[] = [
    { name: "dev-env", kind: "dev-env", context: app, dockerfile: "dev-env.Dockerfile" },
    { name: "artifact", kind: "artifact", context: app, dockerfile: "artifact.Dockerfile", from: ["dev-env"] },
    { name: "api", kind: "runtime", context: app, dockerfile: "runtime.Dockerfile", target: "api", from: ["artifact"] },
    { name: "worker", kind: "runtime", context: app, dockerfile: "runtime.Dockerfile", target: "worker", from: ["artifact"] },
];

// One image repository and one cache repository per image.
const registry = new EcrRegistry("registry", {
    images: images.map((i) => i.name),
    prefix: `acme/${pulumi.getStack()}`,
});

// A Graviton host for linux/arm64 and an x86 host for linux/amd64; the hosts'
// role may push to the family's repositories and no others.
const fleet = new BuilderFleet("fleet", {
    vpcId: config.get("vpcId") ?? "vpc-0a1b2c3d4e5f60718",
    subnetIds: config.getObject<string[]>("subnetIds") ?? ["subnet-0a1b2c3d4e5f60718"],
    allowedCidrs: ["10.20.0.0/16"],
    nodes: {
        "linux/amd64": { instanceType: "c7i.2xlarge" },
        "linux/arm64": { instanceType: "c7g.2xlarge" },
    },
    repositoryArns: registry.allRepositoryArns,
});

const family = new ImageFamily("app", {
    images,
    platforms: ["linux/amd64", "linux/arm64"],
    builders: fleet.builders,
    registry: registry.registrySpec(),
    git: {
        branch: config.get("gitBranch") ?? "main",
        sha: config.get("gitSha") ?? "0123456789abcdef0123456789abcdef01234567",
    },
});

/** Multi-platform ref per image, `repo:sha@sha256:…`. */
export const refs = family.refs;
/** Per-platform ref per image. */
export const platformRefs = family.platformRefs;
/** The buildx builder per platform. */
export const builders = fleet.builders;
