import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as pulumi from "@pulumi/pulumi";
import { ecrRepositoryArns } from "../../components/stack/builders";
import { Recorded } from "../../scripts/harness/mocks";
import { readStackConfig, ROOT } from "../../scripts/harness/stackFile";
import { assertMentions, plain, runStack, SHA, stackConfigError } from "./helpers";

const INSTANCE = "aws:ec2/instance:Instance";
const REGISTRATION = "pulumi-nodejs:dynamic/builders:BuildxRegistration";

const isFleet = (r: Recorded) => r.type.startsWith("imagefleet:builders:") || r.type === INSTANCE || r.type === REGISTRATION;

async function run(stack: string, overrides: string[] = []): Promise<Recorded[]> {
    return (await runStack(stack, overrides)).resources;
}

const configError = stackConfigError;

/** The committed dev fleet with some keys replaced. */
function devFleet(change: Record<string, unknown>): string {
    const fleet = JSON.parse(readStackConfig("dev").config["imagefleet:fleet"]);
    return `imagefleet:fleet=${JSON.stringify({ ...fleet, ...change })}`;
}

describe("stack builders (imagefleet:fleet)", () => {
    it("dev builds on its fleet: arm64 on Graviton, amd64 on x86, every Image on its platform's fleet builder", async () => {
        const resources = await run("dev");
        const hosts = resources.filter((r) => r.type === INSTANCE).map(plain);
        assert.deepEqual(hosts.map((h) => `${h.tags["imagefleet:platform"]} ${h.instanceType}`).sort(),
            ["linux/amd64 c7i.2xlarge", "linux/arm64 c7g.2xlarge"]);
        assert.ok(hosts.every((h) => h.instanceMarketOptions?.marketType === "spot"), "dev runs on spot");
        const builderOf: Record<string, string> = Object.fromEntries(resources.filter((r) => r.type === REGISTRATION).map((r) => [plain(r).platform, plain(r).builderName]));
        assert.deepEqual(builderOf, { "linux/amd64": "imagefleet-dev-amd64", "linux/arm64": "imagefleet-dev-arm64" });
        const images = resources.filter((r) => r.type === "docker-build:index:Image").map(plain);
        assert.equal(images.length, 6);
        for (const i of images) {
            assert.equal(i.builder.name, builderOf[String(i.platforms[0]) as "linux/amd64"]);
        }
    });

    it("limits the dev hosts' role to the stack's ECR image and cache repositories", async () => {
        const resources = await run("dev");
        const policy = JSON.parse(plain(resources.find((r) => r.type === "aws:iam/rolePolicy:RolePolicy" && r.name === "imagefleet-dev-policy")!).policy);
        const granted: string[] = policy.Statement.find((s: any) => s.Sid === "FamilyRepositories").Resource;
        const repositories = resources.filter((r) => r.type === "aws:ecr/repository:Repository").map((r) => r.state.arn as string);
        assert.equal(repositories.length, 6, "dev-env, artifact, runtime and their caches");
        assert.deepEqual([...granted].sort(), [...repositories].sort());
        // Without a registry component, the ARNs follow ImageFamily's naming from imagefleet:registry.
        assert.deepEqual(ecrRepositoryArns({ address: "123456789012.dkr.ecr.eu-west-1.amazonaws.com", namespace: "team" }, ["x"]),
            ["arn:aws:ecr:eu-west-1:123456789012:repository/team/x", "arn:aws:ecr:eu-west-1:123456789012:repository/team/x-cache"]);
        assert.deepEqual(ecrRepositoryArns({ address: "210987654321.dkr.ecr.cn-north-1.amazonaws.com.cn" }, ["x"]),
            ["arn:aws-cn:ecr:cn-north-1:210987654321:repository/x", "arn:aws-cn:ecr:cn-north-1:210987654321:repository/x-cache"]);
        assert.equal(ecrRepositoryArns({ address: "ghcr.io", namespace: "o" }, ["x"]), undefined);
    });

    it("staging has an on-demand fleet; prod (promotion only) and local have none", async () => {
        const staging = await run("staging");
        assert.equal(staging.filter((r) => r.type === INSTANCE).length, 2);
        assert.ok(staging.filter((r) => r.type === INSTANCE).every((r) => plain(r).instanceMarketOptions === undefined));
        for (const stack of ["prod", "local"]) {
            const resources = await run(stack);
            assert.deepEqual(resources.filter(isFleet).map((r) => r.name), [], stack);
        }
        const local = await run("local");
        const arm = local.find((r) => r.type === "docker-build:index:Image" && plain(r).platforms[0] === "linux/arm64")!;
        assert.equal(plain(arm).builder.name, "imagefleet-local-arm64");
    });

    it("names imagefleet:fleet.<key> and the stack in every fleet config error, before declaring the fleet", async () => {
        const err = await configError("dev", [devFleet({
            allowedCidrs: ["0.0.0.0/0"],
            nodes: { "linux/arm64": { instanceType: "c7i.2xlarge" }, "linux/amd64": { instanceType: "c7i.2xlarge" } },
            idleStopMinutes: "soon",
            buildkitReleaseUrl: "s3://mirror/buildkit-{version}.linux-{arch}.tar.gz",
            spotPrice: 1,
        })]);
        assert.match(err.message, /^stack config \(stack "dev"\) is invalid/);
        assertMentions(err.message, [
            'imagefleet:fleet.spotPrice: unknown key',
            'imagefleet:fleet.allowedCidrs[0]: "0.0.0.0/0" opens BuildKit to the whole internet',
            'imagefleet:fleet.nodes["linux/arm64"].instanceType: c7i.2xlarge is a x86_64 type but the platform is linux/arm64',
            'imagefleet:fleet.idleStopMinutes: must be a whole number of minutes (0 never stops), got "soon"',
            'imagefleet:fleet.buildkitReleaseUrl: "s3://mirror/buildkit-{version}.linux-{arch}.tar.gz" is not an http(s) URL',
        ]);
        assert.deepEqual(err.resources.filter(isFleet), [], "nothing of the fleet is declared");
    });

    it("refuses a fleet on the local stack, a fleet that is not an object, and a platform with neither fleet nor builder", async () => {
        const local = await configError("local", [devFleet({})]);
        assert.match(local.message, /stack config \(stack "local"\)[\s\S]*imagefleet:fleet: the local stack builds on this machine and has no fleet/);
        const builders = 'imagefleet:builders={"linux/amd64": "a", "linux/arm64": "b"}';
        const notObject = await configError("dev", ['imagefleet:fleet=["c7g.2xlarge"]', builders]);
        assert.match(notObject.message, /imagefleet:fleet: must be an object \(BuilderFleet arguments\)/);
        const armOnly = await configError("dev", [devFleet({ nodes: { "linux/arm64": { instanceType: "c7g.2xlarge" } } })]);
        assert.match(armOnly.message, /imagefleet:builders: platform "linux\/amd64" \(from imagefleet:platforms\) has no builder/);
    });

    it("a builder for a platform the stack does not build is a warning naming the key, the stack and its platforms; it declares nothing on it", async () => {
        const log = pulumi.log as { warn: (...a: unknown[]) => Promise<void> };
        const saved = log.warn;
        const warned: string[] = [];
        log.warn = async (msg: unknown) => void warned.push(String(msg));
        try {
            const resources = await run("local", ['imagefleet:platforms=["linux/amd64"]',
                'imagefleet:builders={"linux/amd64": "imagefleet-local-amd64", "linux/arm64": "imagefleet-local-arm64"}']);
            assert.ok(resources.filter((r) => r.type === "docker-build:index:Image").every((r) => plain(r).platforms[0] === "linux/amd64"));
        } finally {
            log.warn = saved;
        }
        const mine = warned.filter((w) => w.startsWith("imagefleet:builders:"));
        assert.equal(mine.length, 1, warned.join("\n"));
        assertMentions(mine[0], ['"linux/arm64" has a builder, but stack "local" builds nothing for it', 'imagefleet:platforms: "linux/amd64"', "add it to imagefleet:platforms"]);
    });

    it("a builders value the schema refuses is one error, not also a platform with no builder", async () => {
        const err = await configError("local", ['imagefleet:builders={"linux/amd64": 42, "linux/arm64": "imagefleet-local-arm64"}']);
        assert.match(err.message, /imagefleet:builders\["linux\/amd64"\]/);
        assert.doesNotMatch(err.message, /has no builder/, err.message);
    });

    it("npm run synth -- --stack dev --json shows an arm64 and an amd64 host and arm64 Images on the arm64 builder", () => {
        const r = spawnSync(process.execPath, ["-r", "ts-node/register/transpile-only", "scripts/synth.ts", "--stack", "dev", "--json",
            "--config", `imagefleet:gitSha=${SHA}`, "--config", "imagefleet:gitBranch=main"], { cwd: ROOT, encoding: "utf8" });
        assert.equal(r.status, 0, r.stderr);
        const resources: any[] = JSON.parse(r.stdout);
        const hosts = resources.filter((x) => x.type === INSTANCE);
        assert.ok(hosts.some((h) => h.inputs.tags["imagefleet:platform"] === "linux/arm64" && h.inputs.ami.includes("arm64")));
        assert.ok(hosts.some((h) => h.inputs.tags["imagefleet:platform"] === "linux/amd64" && h.inputs.ami.includes("x86_64")));
        const arm64Builder = resources.find((x) => x.type === REGISTRATION && x.inputs.platform === "linux/arm64").inputs.builderName;
        const armImages = resources.filter((x) => x.type === "docker-build:index:Image" && x.inputs.platforms[0] === "linux/arm64");
        assert.equal(armImages.length, 3);
        assert.ok(armImages.every((x) => x.inputs.builder.name === arm64Builder));
        assert.ok(!r.stdout.includes("PRIVATE KEY") && !r.stdout.includes("4dabf18193072939515e22adb298388d"));
    });
});
