import { strict as assert } from "assert";
import * as path from "path";
import * as fc from "fast-check";
import * as pulumi from "@pulumi/pulumi";
import { BuilderFleet } from "../../components/builders";
import { GithubDelivery, Promotion, StackImageRefs } from "../../components/delivery";
import { BuildxRegistration } from "../../components/builders/registration";
import { fleetIssues, validateRegistration } from "../../components/builders/validate";
import { validateDelivery, validatePromotion } from "../../components/delivery/validate";
import { Issue, issueLine, Problems, ValidationError } from "../../components/errors";
import { validateFamily } from "../../components/images/validate";
import { validateEcrRegistry } from "../../components/registry/validate";
import { ImageFamily } from "../../components/images";
import { EcrRegistry, ghcrRegistry } from "../../components/registry";
import { CONFIG_KEYS, ConfigKeyName, CONFIG_KEY_NAMES } from "../../components/stack/schema";
import { stackConfigIssues } from "../../components/stack/load";
import { evaluateStack } from "../../scripts/harness/evaluateStack";
import { evaluate } from "../../scripts/harness/mocks";
import { readStackConfig, ROOT } from "../../scripts/harness/stackFile";
import { json, near, NAMES_A_KEY, succeedsOrNamesAKey } from "./arbitraries";
import { FIXTURE, fixtureImages, SHA } from "./helpers";

/**
 * Property tests (issue 11): random JSON, and mutations of valid values, for
 * every config key (alone and together) and for the arguments of every
 * component. Each case either succeeds or is refused with a ValidationError
 * whose every line names a key; a TypeError or any other error fails the
 * property, and fast-check prints the seed and the shrunk case to replay it
 * (`fc.assert(..., { seed, path })`).
 */

/** Cases per config key and per component; IMAGEFLEET_PROPERTY_RUNS raises it for a longer hunt. */
const RUNS = Number(process.env.IMAGEFLEET_PROPERTY_RUNS ?? 1000);
/** Cases per key that also run the whole program (synth's path), the valid ones first. */
const FULL_RUNS = 2;
const ENV = { GIT_BRANCH: "main", GIT_COMMIT: SHA };
/** Valid argument sets per component that are declared in full; the rest run the constructor's validation only. */
const DECLARED = 20;

function throwIfAny(subject: string, issues: Issue[]): void {
    const p = new Problems();
    p.addIssues(issues);
    p.throwIfAny(subject, "test");
}

/** Valid values to mutate, and the stack whose committed config they go into. */
const VALID: Record<ConfigKeyName, { stack: string; value: unknown }> = {
    registry: { stack: "local", value: { address: "registry.localhost:5000", namespace: "imagefleet", username: "ci" } },
    registryPassword: { stack: "local", value: "s3cret" },
    platforms: { stack: "local", value: ["linux/amd64", "linux/arm64"] },
    builders: { stack: "local", value: { "linux/amd64": "imagefleet-local-amd64", "linux/arm64": "imagefleet-local-arm64" } },
    gitBranch: { stack: "local", value: "feature/x" },
    gitSha: { stack: "local", value: SHA },
    fallbackBranches: { stack: "local", value: ["main", "release/1.x"] },
    cacheWrite: { stack: "local", value: false },
    deployBranch: { stack: "local", value: "release/1.x" },
    checks: { stack: "local", value: "error" },
    variants: { stack: "local", value: { perf: { PROFILE: "performance" }, release: { PROFILE: "release" } } },
    buildArgs: { stack: "local", value: { BASE_IMAGE: "registry.localhost:5000/base/debian:bookworm", BUSYBOX_IMAGE: "registry.localhost:5000/base/busybox:1.36" } },
    images: { stack: "local", value: fixtureImages.map((i) => (i.name === "runtime" ? { ...i, platforms: ["linux/amd64"], buildArgs: { X: "1" } } : i)) },
    artifactSource: { stack: "local", value: "local" },
    localArtifactDir: { stack: "local", value: path.join(FIXTURE, "local-artifact") },
    release: { stack: "local", value: "1.4.0-rc.1" },
    push: { stack: "local", value: false },
    buildOnPreview: { stack: "local", value: true },
    fleet: { stack: "dev", value: JSON.parse(readStackConfig("dev").config["imagefleet:fleet"]) },
    registryKind: { stack: "dev", value: "ecr" },
    ecr: { stack: "dev", value: { prefix: "team/dev", encryption: "KMS", kmsKey: "arn:aws:kms:eu-west-1:123456789012:key/0d6f1c2e-5b7a-4c1d-9e3f-2a8b7c6d5e4f", cacheExpiryDays: 7, tags: { team: "a" } } },
    promoteFrom: { stack: "dev", value: "organization/imagefleet/staging" },
    delivery: { stack: "dev", value: JSON.parse(readStackConfig("dev").config["imagefleet:delivery"]) },
    supplychain: { stack: "local", value: { sourceRepository: "https://github.com/example-org/imagefleet", signing: "generate" } },
};

/** The string the engine hands a program for a value (`pulumi config set`, or a stack file's YAML). */
function engineString(value: unknown): string {
    return typeof value === "string" ? value : JSON.stringify(value) ?? "";
}

const stackFiles = new Map<string, ReturnType<typeof readStackConfig>>();
const baseConfig = (stack: string) => {
    const map = stackFiles.get(stack) ?? readStackConfig(stack);
    stackFiles.set(stack, map);
    const config: Record<string, string> = { ...map.config, "imagefleet:gitSha": SHA, "imagefleet:gitBranch": "main" };
    return { config, secretKeys: [...map.secretKeys] };
};

/** Checks one config as the program's first step does; returns whether it passed. Any throw fails the property. */
function checkConfig(stack: string, changes: Partial<Record<ConfigKeyName, unknown>>): boolean {
    const { config, secretKeys } = baseConfig(stack);
    for (const [key, value] of Object.entries(changes)) {
        config[`imagefleet:${key}`] = engineString(value);
        if ("secret" in CONFIG_KEYS[key as ConfigKeyName]) {
            secretKeys.push(`imagefleet:${key}`);
        }
    }
    pulumi.runtime.setAllConfig(config, secretKeys);
    const { issues } = stackConfigIssues(ENV);
    for (const line of issues.map((i) => issueLine(i, "imagefleet:"))) {
        assert.match(line, NAMES_A_KEY, `a problem that names no key: ${line}`);
    }
    return issues.length === 0;
}

/** The whole program on a config (synth's path): it declares its resources, or throws a ValidationError naming keys. */
async function runProgram(stack: string, changes: Partial<Record<ConfigKeyName, unknown>>): Promise<"ok" | "refused"> {
    const overrides = Object.entries(changes).map(([k, v]) => `imagefleet:${k}=${engineString(v)}`);
    const secrets: Record<string, string> = "registryPassword" in changes ? { "imagefleet:registryPassword": engineString(changes.registryPassword) } : {};
    try {
        await evaluateStack(stack, { overrides: [`imagefleet:gitSha=${SHA}`, "imagefleet:gitBranch=main", ...overrides.filter((o) => !o.startsWith("imagefleet:registryPassword=")), ], secrets });
        return "ok";
    } catch (err) {
        assert.ok(err instanceof ValidationError, `the program failed with ${err instanceof Error ? err.stack : String(err)} on ${JSON.stringify(changes)}`);
        for (const line of err.problems) {
            assert.match(line, NAMES_A_KEY, `a problem that names no key: ${line}`);
        }
        return "refused";
    }
}

describe("property: random config for every key never crashes the program", function () {
    const cwd = process.cwd();
    const counts: Record<string, { ok: number; refused: number }> = {};

    before(async () => {
        process.chdir(ROOT);
        await pulumi.runtime.setMocks({ newResource: () => ({ id: "x", state: {} }), call: () => ({}) }, "imagefleet", "local", false);
    });
    after(() => {
        process.chdir(cwd);
        console.log(`      config cases (valid/refused): ${Object.entries(counts).map(([k, c]) => `${k} ${c.ok}/${c.refused}`).join(", ")}`);
    });

    for (const key of CONFIG_KEY_NAMES) {
        it(`imagefleet:${key}: ${RUNS} cases, each accepted or refused naming a key; the first valid and refused ones through the whole program`, async () => {
            const { stack, value } = VALID[key];
            const sampled: { ok: unknown[]; refused: unknown[] } = { ok: [], refused: [] };
            const c = (counts[key] = { ok: 0, refused: 0 });
            await pulumi.runtime.setMocks({ newResource: () => ({ id: "x", state: {} }), call: () => ({}) }, "imagefleet", stack, false);
            fc.assert(fc.property(near(value), (v) => {
                const passed = checkConfig(stack, { [key]: v });
                c[passed ? "ok" : "refused"]++;
                const bucket = passed ? sampled.ok : sampled.refused;
                if (bucket.length < FULL_RUNS) {
                    bucket.push(v);
                }
            }), { numRuns: RUNS });
            assert.ok(c.ok > 0, `no valid case of imagefleet:${key} was generated: the property tests only refusals`);
            for (const v of [...sampled.ok, ...sampled.refused]) {
                await runProgram(stack, { [key]: v });
                await pulumi.runtime.setMocks({ newResource: () => ({ id: "x", state: {} }), call: () => ({}) }, "imagefleet", stack, false);
            }
        });
    }

    it(`every key at once: ${RUNS} cases of several keys changed together`, async () => {
        const keys = CONFIG_KEY_NAMES.filter((k) => VALID[k].stack === "local");
        const arb = fc.subarray(keys, { minLength: 2, maxLength: 6 }).chain((ks) => fc.tuple(...ks.map((k) => near(VALID[k].value).map((v) => [k, v] as const))));
        let ok = 0;
        await pulumi.runtime.setMocks({ newResource: () => ({ id: "x", state: {} }), call: () => ({}) }, "imagefleet", "local", false);
        fc.assert(fc.property(arb, (pairs) => {
            ok += checkConfig("local", Object.fromEntries(pairs)) ? 1 : 0;
        }), { numRuns: RUNS });
        counts["(combined)"] = { ok, refused: RUNS - ok };
    });
});

/** Declares `count` components under one mocked evaluation, so a case costs its declaration only. */
async function declareMany(stack: string, run: () => void): Promise<void> {
    await evaluate({ stack, program: run });
}

describe("property: random arguments for every component never crash it", () => {
    const componentCounts: string[] = [];
    after(() => console.log(`      argument sets (valid/refused): ${componentCounts.join(", ")}`));
    const familyBase = {
        images: fixtureImages.map((i) => (i.name === "runtime" ? { ...i, platforms: ["linux/amd64"] } : i)),
        platforms: ["linux/amd64", "linux/arm64"],
        builders: { "linux/amd64": "b-amd64", "linux/arm64": "b-arm64" },
        registry: { address: "registry.test:5000", namespace: "team" },
        git: { branch: "feature/x", sha: SHA },
        variants: { perf: { PROFILE: "performance" } },
        cache: { fallbackBranches: ["main"] },
        tags: { release: "1.0.0" },
    };
    const fleetBase = {
        vpcId: "vpc-0b7e3c1d9a2f45e61",
        subnetIds: ["subnet-04c1e9a7b3d2f8e15"],
        allowedCidrs: ["10.40.0.0/16"],
        nodes: { "linux/arm64": { instanceType: "c7g.2xlarge", count: 1 }, "linux/amd64": { instanceType: "c7i.2xlarge" } },
        repositoryArns: ["arn:aws:ecr:eu-west-1:123456789012:repository/team/*"],
        gc: { maxUsedGiB: 50 },
        register: false,
    };
    const ecrBase = { images: ["dev-env", "runtime"], prefix: "team/dev", encryption: "AES256", keepCacheBranches: ["main"], cacheExpiryDays: 7 };
    const deliveryBase = {
        repository: "acme/platform-images",
        oidcProvider: "create",
        stateBackendUrl: "s3://acme-state/images?region=eu-west-1",
        region: "eu-west-1",
        environments: [{ name: "dev" }, { name: "prod", reviewers: { teams: [4242] }, branches: ["main"] }],
    };
    const ECR = "123456789012.dkr.ecr.eu-west-1.amazonaws.com";
    const ref = (i: string) => `${ECR}/staging/${i}:0123456789ab@sha256:${"a".repeat(64)}`;
    const promotionBase = {
        images: [{ image: "dev-env" }, { image: "runtime", variant: "perf" }],
        sources: { "dev-env": ref("dev-env"), "runtime-perf": ref("runtime") },
        repositories: { "dev-env": `${ECR}/prod/dev-env`, runtime: `${ECR}/prod/runtime` },
        registry: { address: ECR, username: "AWS" },
        release: "1.0.0",
    };

    // `check` is the constructor's first step (its validation); past DECLARED valid cases only it runs,
    // since declaring hundreds of valid fleets costs seconds and adds nothing the first ones did not show.
    const registrationBase = {
        builderName: "imagefleet-dev-arm64", platform: "linux/arm64", nodes: [{ endpoint: "tcp://10.0.1.5:1234", serverName: "h.buildkit" }],
        caPem: "-----BEGIN CERTIFICATE-----", certPem: "-----BEGIN CERTIFICATE-----", keyPem: "-----BEGIN PRIVATE KEY-----", waitSeconds: 0,
    };
    const components: { name: string; stack: string; base: unknown; declare: (n: number, args: any) => unknown; check: (args: any) => unknown; declared?: number }[] = [
        { name: "ImageFamily", stack: "test", base: familyBase, declare: (n, a) => new ImageFamily(`f${n}`, a), check: (a) => validateFamily("f", a, "test") },
        { name: "BuilderFleet", stack: "test", base: fleetBase, declare: (n, a) => new BuilderFleet(`b${n}`, a), check: (a) => throwIfAny("BuilderFleet", fleetIssues(a)) },
        { name: "EcrRegistry", stack: "dev", base: ecrBase, declare: (n, a) => new EcrRegistry(`r${n}`, a), check: (a) => validateEcrRegistry("r", a, "dev") },
        { name: "ghcrRegistry", stack: "dev", base: { owner: "Acme", username: "bot", token: "t" }, declare: (_n, a) => ghcrRegistry(a), check: (a) => ghcrRegistry(a) },
        { name: "GithubDelivery", stack: "dev", base: deliveryBase, declare: (n, a) => new GithubDelivery(`d${n}`, a), check: (a) => validateDelivery("d", a, "dev") },
        { name: "Promotion", stack: "prod", base: promotionBase, declare: (n, a) => new Promotion(`p${n}`, a), check: (a) => validatePromotion("p", a, "prod") },
        // A dynamic resource serializes its provider on every declaration; a few are enough.
        { name: "BuildxRegistration", stack: "dev", base: registrationBase, declared: 5,
            declare: (n, a) => new BuildxRegistration(`x${n}`, a), check: (a) => validateRegistration("x", a, "dev") },
        { name: "StackImageRefs", stack: "prod", base: { stack: "acme/images/staging", options: { output: "refs" } },
            declare: (_n, a) => new StackImageRefs(a?.stack, a?.options), check: (a) => new StackImageRefs(a?.stack, a?.options) },
    ];

    for (const c of components) {
        it(`${c.name}: ${RUNS} argument sets, each declared or refused naming a key`, async () => {
            let n = 0;
            const seen = { ok: 0, refused: 0 };
            await declareMany(c.stack, () => {
                fc.assert(fc.property(near(c.base), (args) => {
                    seen[succeedsOrNamesAKey(() => (seen.ok < (c.declared ?? DECLARED) ? c.declare(n++, args) : c.check(args)))]++;
                }), { numRuns: RUNS });
            });
            assert.ok(seen.ok > 0 && seen.refused > 0, `${c.name}: ${JSON.stringify(seen)}; the cases should reach both outcomes`);
            componentCounts.push(`${c.name} ${seen.ok}/${seen.refused}`);
        });
    }

    it("can fail: a TypeError, or a refusal that names no key, fails the property with its seed", () => {
        const crash = () => fc.assert(fc.property(json, (v) => {
            succeedsOrNamesAKey(() => (v as any).no.such.field);
        }), { numRuns: 50 });
        assert.throws(crash, (err: Error) => /seed: -?\d+/.test(err.message) && /not a ValidationError: TypeError/.test(String(err.cause)));
        assert.throws(() => succeedsOrNamesAKey(() => { throw new ValidationError("X", "s", ["something is wrong"]); }), /names no key/);
    });

    it("takes Outputs and Promises where an argument is a pulumi.Input, checking only plain values", async () => {
        await declareMany("test", () => {
            const out = <T>(v: T) => pulumi.output(v);
            assert.equal(succeedsOrNamesAKey(() => new ImageFamily("outputs", {
                ...(familyBase as any),
                builders: { "linux/amd64": out("b1"), "linux/arm64": Promise.resolve("b2") },
                registry: { address: out("not a host!! (unknown until resolved)"), password: out("pw"), repositories: { "dev-env": out("x"), artifact: out("y"), runtime: out("z") } },
            })), "ok");
            assert.equal(succeedsOrNamesAKey(() => new BuilderFleet("outputs", { ...(fleetBase as any), vpcId: out("vpc-?"), subnetIds: [out("subnet-?")] })), "ok");
        });
    });
});
