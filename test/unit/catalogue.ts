import * as path from "path";
import { BuilderFleet } from "../../components/builders";
import { ValidationError } from "../../components/errors";
import { ImageFamily, ImageFamilyArgs } from "../../components/images";
import * as pulumi from "@pulumi/pulumi";
import { imageFamilyArgs } from "../../components/provider/inputs";
import { evaluate } from "../../scripts/harness/mocks";
import { evaluateStack } from "../../scripts/harness/evaluateStack";
import { ROOT } from "../../scripts/harness/stackFile";

/**
 * The message catalogue: one case per class of bad input found in issue 11
 * (and the classes the schema work added), each with the input and the
 * message a user sees. `catalogue.spec.ts` runs every case and checks its
 * message; `scripts/docs.ts` writes them to docs/messages.md, and the spec fails
 * when that file drifts.
 */
export interface CatalogueCase {
    /** The class of mistake (issue 11's list). */
    readonly class: string;
    /** What the user did, as shown in the docs. */
    readonly input: string;
    /** Produces the error a user gets. */
    readonly run: () => Promise<ValidationError>;
    /** Parts the message must contain. */
    readonly expect: readonly string[];
    /** Parts it must not contain (a false problem caused by the real one). */
    readonly absent?: readonly string[];
}

const SHA = "0123456789abcdef0123456789abcdef01234567";
const FIXTURE = path.join(ROOT, "test", "fixtures", "family");

async function config(stack: string, ...overrides: string[]): Promise<ValidationError> {
    try {
        await evaluateStack(stack, { overrides: [`imagefleet:gitSha=${SHA}`, "imagefleet:gitBranch=main", ...overrides] });
    } catch (err) {
        if (err instanceof ValidationError) {
            return err;
        }
        throw err;
    }
    throw new Error(`expected ${overrides.join(" ")} to be refused on stack ${stack}`);
}

const pluginBase = { registry: { address: "r.example.com" }, git: { branch: "main", sha: SHA } };

/** What the provider plugin says about a YAML, Go or Python program's ImageFamily inputs (on the local stack). */
function plugin(name: string, inputs: Record<string, unknown>): Promise<ValidationError> {
    return component("local", () => imageFamilyArgs(name, inputs));
}

async function component(stack: string, declare: () => unknown): Promise<ValidationError> {
    try {
        await evaluate({ stack, program: declare });
    } catch (err) {
        if (err instanceof ValidationError) {
            return err;
        }
        throw err;
    }
    throw new Error("expected the arguments to be refused");
}

const images = [
    { name: "dev-env", kind: "dev-env", context: FIXTURE, dockerfile: "dev-env.Dockerfile" },
    { name: "artifact", kind: "artifact", context: FIXTURE, dockerfile: "artifact.Dockerfile", from: ["dev-env"] },
    { name: "runtime", kind: "runtime", context: FIXTURE, dockerfile: "runtime.Dockerfile", from: ["artifact"] },
];
const family = (change: Record<string, unknown>): ImageFamilyArgs => ({
    images,
    builders: { "linux/amd64": "b-amd64", "linux/arm64": "b-arm64" },
    registry: { address: "registry.example.com", namespace: "team" },
    git: { branch: "main", sha: SHA },
    ...change,
} as ImageFamilyArgs);
const withImage = (i: number, change: Record<string, unknown>) => JSON.stringify(images.map((x, n) => (n === i ? { ...x, ...change } : x)));

export const CATALOGUE: readonly CatalogueCase[] = [
    {
        class: "unknown key (top level)",
        input: "`--config 'imagefleet:platfroms=[\"linux/amd64\"]'`",
        run: () => config("local", 'imagefleet:platfroms=["linux/amd64"]'),
        expect: ["imagefleet:platfroms: unknown key; did you mean imagefleet:platforms?"],
    },
    {
        class: "unknown key (inside registry)",
        input: '`imagefleet:registry: {"address": "registry.localhost:5000", "namesapce": "team"}`',
        run: () => config("local", 'imagefleet:registry={"address": "registry.localhost:5000", "namesapce": "team"}'),
        expect: ['imagefleet:registry.namesapce: unknown key; did you mean "namespace"?'],
    },
    {
        class: "unknown key (inside an image entry)",
        input: "an image of `imagefleet:images` with `dockerFile`",
        run: () => config("local", `imagefleet:images=${withImage(2, { dockerFile: "runtime.Dockerfile" })}`),
        expect: ['imagefleet:images[2].dockerFile: unknown key; did you mean "dockerfile"?'],
    },
    {
        class: "unknown key (component arguments)",
        input: "`new ImageFamily(\"app\", { ..., platfroms: [...] })`",
        run: () => component("dev", () => new ImageFamily("app", { ...family({}), platfroms: ["linux/amd64"] } as never)),
        expect: ['ImageFamily "app" (stack "dev") is invalid', 'platfroms: unknown key; did you mean "platforms"?'],
    },
    {
        class: "two resources push the same tag (variant ends in a platform suffix)",
        input: '`imagefleet:variants: {"perf": {"P": "1"}, "perf-amd64": {"P": "2"}}`',
        run: () => config("local", 'imagefleet:variants={"perf": {"P": "1"}, "perf-amd64": {"P": "2"}}'),
        expect: ['imagefleet:variants.perf-amd64: "perf-amd64" ends with the platform suffix "-amd64"', 'variant "perf"', '"0123456789ab-perf-amd64"', '"build-<hash>-perf-amd64"'],
    },
    {
        class: "two resources push the same tag (variant named like a platform)",
        input: '`imagefleet:variants: {"amd64": {"P": "1"}}`',
        run: () => config("local", 'imagefleet:variants={"amd64": {"P": "1"}}'),
        expect: ['imagefleet:variants.amd64: "amd64" is the platform arch "amd64"'],
    },
    {
        class: "two branches share a cache ref",
        input: '`imagefleet:gitBranch: main-perf` with `imagefleet:variants: {"x": {"P": "1"}, "perf-x": {"P": "2"}}`',
        run: () => config("local", "imagefleet:gitBranch=main-perf", 'imagefleet:variants={"x": {"P": "1"}, "perf-x": {"P": "2"}}'),
        expect: ['imagefleet:gitBranch: branch "main-perf"\'s linux/amd64 cache of "artifact-x" and branch "main"\'s linux/amd64 cache of "artifact-perf-x" both push tag "main-perf-x-amd64"'],
    },
    {
        class: "two images share a repository",
        input: "`registry.repositories` mapping two images to one repository",
        run: () => component("dev", () => new ImageFamily("app", family({ registry: { address: "r.example.com", repositories: { artifact: "r.example.com/team/x", runtime: "r.example.com/team/x" } } }))),
        expect: ['registry.repositories.runtime: image "runtime"\'s repository is "r.example.com/team/x", which is already image "artifact"\'s repository'],
    },
    ...["https://x", "a b", "host:99999", "host:5000/extra/"].map((address): CatalogueCase => ({
        class: "registry address",
        input: `\`imagefleet:registry: {"address": ${JSON.stringify(address)}}\``,
        run: () => config("local", `imagefleet:registry=${JSON.stringify({ address })}`),
        expect: [`imagefleet:registry.address: ${JSON.stringify(address)}`, 'the address is a registry host and optional port, e.g. "registry.localhost:5000"'],
    })),
    {
        class: "wrong JSON type",
        input: "`from: {\"dev-env\": null}` in an image of `imagefleet:images`",
        run: () => config("local", `imagefleet:images=${withImage(1, { from: { "dev-env": null } })}`),
        expect: ['imagefleet:images[1].from.dev-env: must be an image name, {"image": "<name>"} or {"local": "<directory>"}, got null'],
    },
    {
        class: "wrong JSON type",
        input: "`imagefleet:delivery.environments` as an object",
        run: () => config("dev", 'imagefleet:delivery={"repository": "acme/images", "preview": false, "environments": {"name": "dev"}}'),
        expect: ['imagefleet:delivery.environments: must be a list of environments, got {"name":"dev"}'],
    },
    {
        class: "wrong JSON type",
        input: "`imagefleet:images: [null]`",
        run: () => config("local", "imagefleet:images=[null]"),
        expect: ["imagefleet:images[0]: must be an image", "got null"],
    },
    {
        class: "wrong JSON type",
        input: '`new BuilderFleet("x", undefined)`',
        run: () => component("dev", () => new BuilderFleet("x", undefined as never)),
        expect: ['BuilderFleet "x" (stack "dev") is invalid', "arguments: is required"],
    },
    {
        class: "branch name git forbids",
        input: "`imagefleet:gitBranch: feature..x`",
        run: () => config("local", "imagefleet:gitBranch=feature..x"),
        expect: ["imagefleet:gitBranch: \"feature..x\" is not a branch name git allows: it contains '..'"],
    },
    {
        class: "build arg name",
        input: '`imagefleet:buildArgs: {"": "x", "A B": "y"}`',
        run: () => config("local", 'imagefleet:buildArgs={"": "x", "A B": "y"}'),
        expect: ['imagefleet:buildArgs[""]: "" is not a build arg name', 'imagefleet:buildArgs["A B"]: "A B" is not a build arg name'],
    },
    {
        class: "runtime with no artifact",
        input: "a runtime image of `imagefleet:images` whose Dockerfile copies from `artifact`, with only the dev-env in `from`",
        run: () => config("local", `imagefleet:images=${withImage(2, { from: ["dev-env"] })}`),
        expect: ['imagefleet:images[2].from: the Dockerfile builds from "artifact" (COPY --from=artifact, line', 'an image of this family, but from does not list it; add from: ["artifact"]'],
    },
    {
        class: "artifactSource/localArtifactDir with custom images",
        input: "`imagefleet:images` set, and `imagefleet:artifactSource: local`",
        run: () => config("local", `imagefleet:images=${JSON.stringify(images)}`, "imagefleet:artifactSource=local", "imagefleet:localArtifactDir=dist"),
        expect: ["imagefleet:artifactSource: only applies to the example family, and imagefleet:images is set"],
    },
    {
        class: "semver with build metadata",
        input: "`imagefleet:release: 1.2.3+build.5`",
        run: () => config("local", "imagefleet:release=1.2.3+build.5"),
        expect: ['imagefleet:release: "1.2.3+build.5" has build metadata ("+build.5"), which a tag cannot hold', 'use "1.2.3", or the pre-release "1.2.3-build.5"'],
    },
    {
        class: "YAML scalar where a list is expected",
        input: "`imagefleet:fallbackBranches: main`",
        run: () => config("local", "imagefleet:fallbackBranches=main"),
        expect: ['imagefleet:fallbackBranches: must be a list of branch names, e.g. ["main"], got "main"; in YAML, a list is [a, b] or one "- item" per line'],
    },
    {
        class: "one bad builders entry",
        input: '`imagefleet:builders: {"linux/amd64": "b-amd64", "linux/arm64": 3}`',
        run: () => config("local", 'imagefleet:builders={"linux/amd64": "b-amd64", "linux/arm64": 3}'),
        expect: ['imagefleet:builders["linux/arm64"]: must be a buildx builder name, or a pool of them, e.g. "ci-amd64" or ["ci-amd64-a", "ci-amd64-b"], got 3'],
        absent: ['platform "linux/amd64"', "has no builder"],
    },
    {
        class: "a fleet platform that is not one",
        input: '`imagefleet:fleet.nodes: {"linux/amd65": …}`',
        run: () => config("dev",
            'imagefleet:fleet={"vpcId": "vpc-0123456789abcdef0", "subnetIds": ["subnet-0123456789abcdef0"], "allowedCidrs": ["10.0.0.0/16"], "nodes": {"linux/amd65": {"instanceType": "c7i.large"}}}'),
        expect: ['imagefleet:fleet.nodes["linux/amd65"]: unknown key; did you mean "linux/amd64"?'],
        absent: ["needs at least one platform", "has no builder"],
    },
    {
        class: "a delivery that is not an object",
        input: '`imagefleet:delivery: "acme"` on a stack that signs with KMS',
        run: () => config("dev", 'imagefleet:delivery="acme"'),
        expect: ['imagefleet:delivery: must be an object (GithubDelivery settings), got "acme"'],
        absent: ["signerArns"],
    },
    {
        class: "a builder pool",
        input: '`imagefleet:builders: {"linux/amd64": ["ci-a", "CI-A"], "linux/arm64": []}`',
        run: () => config("local", 'imagefleet:builders={"linux/amd64": ["ci-a", "CI-A"], "linux/arm64": []}'),
        expect: [
            'imagefleet:builders["linux/amd64"][1]: "CI-A" is already in the pool (entry 0); each builder once',
            'imagefleet:builders["linux/arm64"]: an empty pool has no builder; list at least one name',
        ],
    },
    {
        class: "VPC, subnet and KMS ids",
        input: '`imagefleet:fleet` with `"vpcId": "vpc-xyz"`, `"subnetIds": ["subnet-1"]`; `imagefleet:delivery.secretsKeyArn: "arn:aws:kms:…:key/k"`',
        run: () => config("dev",
            'imagefleet:fleet={"vpcId": "vpc-xyz", "subnetIds": ["subnet-1"], "allowedCidrs": ["10.0.0.0/16"], "nodes": {"linux/arm64": {"instanceType": "c7g.large"}, "linux/amd64": {"instanceType": "c7i.large"}}}',
            'imagefleet:delivery={"repository": "acme/images", "stateBackendUrl": "s3://state/x", "secretsKeyArn": "arn:aws:kms:eu-west-1:123456789012:key/k"}'),
        expect: ['imagefleet:fleet.vpcId: "vpc-xyz" is not a VPC id', 'imagefleet:fleet.subnetIds[0]: "subnet-1" is not a subnet id', 'imagefleet:delivery.secretsKeyArn: "arn:aws:kms:eu-west-1:123456789012:key/k" is not a KMS key ARN'],
    },
    {
        class: "per-image platforms",
        input: "an image built for a platform the image it takes from lacks",
        run: () => config("local", `imagefleet:images=${withImage(1, { platforms: ["linux/arm64"] })}`),
        expect: ['imagefleet:images[2].platforms: image "runtime" builds for "linux/amd64" but takes "artifact" as context "artifact", which is built only for "linux/arm64"'],
    },
    {
        class: "per-image platforms",
        input: "an image platform the family does not build, listed twice",
        run: () => config("local", 'imagefleet:platforms=["linux/amd64"]', `imagefleet:images=${withImage(0, { platforms: ["linux/arm64", "linux/amd64", "linux/amd64"] })}`),
        expect: ['imagefleet:images[0].platforms[0]: "linux/arm64" is not one of the family\'s platforms; valid: "linux/amd64"', 'imagefleet:images[0].platforms[2]: "linux/amd64" is listed twice'],
    },
    {
        class: "a split union set both ways (YAML, Go, Python)",
        input: "`builders` and `builderPools` both naming linux/amd64, an image with both `from` and `fromContexts`",
        run: () => plugin("app", {
            ...pluginBase, builders: { "linux/amd64": "a" }, builderPools: { "linux/amd64": ["b", "c"] },
            images: [{ name: "runtime", kind: "runtime", context: ".", from: ["artifact"], fromContexts: { artifact: { image: "artifact" } } }],
        }),
        expect: ["builders.linux/amd64: also set in builderPools", "images[0]: sets both from and fromContexts"],
    },
    {
        class: "a value that decides resources arrives as an output (YAML, Go, Python)",
        input: "`images` taken from another resource's output",
        run: () => plugin("app", { ...pluginBase, images: pulumi.output([]) }),
        expect: ["images: must be a plain value when the program runs"],
    },
];

/** docs/messages.md, from the cases' real messages. */
export async function renderCatalogue(): Promise<string> {
    const rows: string[] = [];
    for (const c of CATALOGUE) {
        const err = await c.run();
        const message = err.message.split(ROOT).join(".").replace(/\n/g, "<br>").replace(/\|/g, "\\|");
        rows.push(`| ${c.class} | ${c.input.replace(/\|/g, "\\|")} | ${message} |`);
    }
    return [
        "<!-- Generated by `npx ts-node --transpile-only scripts/docs.ts` from test/unit/catalogue.ts; test/unit/catalogue.spec.ts fails when it drifts. -->",
        "# Error messages",
        "",
        "Every mistake is refused before anything is declared, with one `ValidationError` that lists",
        "every problem: the component or the `imagefleet:<key>` path, the stack, the bad value and what",
        "would be valid. The table shows one real message per class of mistake (the stack is `local`,",
        "`dev` or the component's). `synth` and `bake` print them without a stack trace",
        "(`IMAGEFLEET_DEBUG=1` adds it); a YAML syntax error names the file, line and column, and an",
        "unknown stack lists the stacks there are.",
        "",
        "| class | input | message |",
        "| --- | --- | --- |",
        ...rows,
        "",
    ].join("\n");
}
