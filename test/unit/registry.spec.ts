import { strict as assert } from "assert";
import * as pulumi from "@pulumi/pulumi";
import { ValidationError } from "../../components/errors";
import { ImageFamily } from "../../components/images";
import { cacheRepositoryRules, EcrRegistry, EcrRegistryArgs, ghcrRegistry, protectionFor } from "../../components/registry";
import { evaluate, isSecret, Recorded, ResourceOptionsSeen } from "../../scripts/harness/mocks";
import { assertMentions, builds, byName, familyArgs, indexes, plain, stackConfigError } from "./helpers";

const REPO = "aws:ecr/repository:Repository";
const POLICY = "aws:ecr/lifecyclePolicy:LifecyclePolicy";
const HOST = "123456789012.dkr.ecr.eu-west-1.amazonaws.com";

/** Declares an EcrRegistry under mocks; the harness records each resource's options. */
async function declare(args: Partial<EcrRegistryArgs> = {}, stack = "dev", withFamily = false) {
    let registry: EcrRegistry | undefined;
    const { resources } = await evaluate({
        stack,
        program: () => {
            registry = new EcrRegistry("reg", { images: ["dev-env", "artifact", "runtime"], ...args });
            if (withFamily) {
                new ImageFamily("fam", familyArgs({ registry: registry.registrySpec() }));
            }
        },
    });
    const options = new Map<string, ResourceOptionsSeen>(resources.map((r) => [`${r.type} ${r.name}`, r.options]));
    return { resources, options, registry: registry! };
}

async function rejection(args: Partial<EcrRegistryArgs>): Promise<ValidationError & { resources: Recorded[] }> {
    try {
        await declare(args);
    } catch (err) {
        assert.ok(err instanceof ValidationError, String(err));
        return err as ValidationError & { resources: Recorded[] };
    }
    throw new Error("expected the registry to be rejected");
}

const value = <T>(o: pulumi.Output<T>) => new Promise<T>((resolve) => o.apply(resolve));

describe("EcrRegistry", () => {
    it("declares an image and a cache repository per image: scanned on push, AES256 by default, mutable tags", async () => {
        const { resources } = await declare();
        const repos = resources.filter((r) => r.type === REPO);
        assert.deepEqual(repos.map((r) => plain(r).name).sort(), [
            "imagefleet/dev/artifact", "imagefleet/dev/artifact-cache", "imagefleet/dev/dev-env",
            "imagefleet/dev/dev-env-cache", "imagefleet/dev/runtime", "imagefleet/dev/runtime-cache",
        ]);
        for (const r of repos) {
            const i = plain(r);
            assert.deepEqual(i.imageScanningConfiguration, { scanOnPush: true });
            assert.deepEqual(i.encryptionConfigurations, [{ encryptionType: "AES256" }]);
            assert.equal(i.imageTagMutability, "MUTABLE");
            assert.equal(i.forceDelete, false);
            assert.equal(r.parent, "reg");
        }
    });

    it("encrypts with a customer managed KMS key when asked", async () => {
        const key = "arn:aws:kms:eu-west-1:123456789012:key/mrk-0123456789abcdef0123456789abcdef";
        const { resources } = await declare({ encryption: "KMS", kmsKey: key, prefix: "team/images" });
        const runtime = plain(byName(resources, "reg-runtime"));
        assert.deepEqual(runtime.encryptionConfigurations, [{ encryptionType: "KMS", kmsKey: key }]);
        assert.equal(runtime.name, "team/images/runtime");
    });

    it("puts the cache rules on cache repositories and no expiring rule on image repositories by default", async () => {
        const { resources } = await declare({ platforms: ["linux/arm64"], keepCacheBranches: ["main", "develop"], cacheExpiryDays: 7 });
        const policies = resources.filter((r) => r.type === POLICY);
        assert.deepEqual(policies.map((p) => p.name).sort(), ["reg-artifact-cache", "reg-dev-env-cache", "reg-runtime-cache"]);
        const expected = cacheRepositoryRules({ keepBranches: ["main", "develop"], archs: ["arm64"], staleAfterDays: 7, untaggedExpiryDays: 1 });
        for (const p of policies) {
            assert.deepEqual(JSON.parse(plain(p).policy), { rules: JSON.parse(JSON.stringify(expected)) });
            assert.equal(plain(p).repository, `imagefleet/dev/${p.name.slice("reg-".length)}`);
        }
        const optIn = await declare({ untaggedImageExpiryDays: 30 });
        const rules = JSON.parse(plain(byName(optIn.resources.filter((r) => r.type === POLICY), "reg-runtime")).policy).rules;
        assert.deepEqual(rules.map((r: any) => r.selection.tagStatus), ["untagged"]);
    });

    it("protects repositories in prod by default (protect and retainOnDelete), not in dev, and lets prod opt out", async () => {
        assert.deepEqual(protectionFor("prod"), { protect: true, retainOnDelete: true });
        assert.deepEqual(protectionFor("production"), { protect: true, retainOnDelete: true });
        assert.deepEqual(protectionFor("dev"), { protect: false, retainOnDelete: false });
        assert.deepEqual(protectionFor("prod", false), { protect: false, retainOnDelete: false });
        assert.deepEqual(protectionFor("staging", true), { protect: true, retainOnDelete: true });

        const reposOf = (m: Map<string, ResourceOptionsSeen>) => [...m].filter(([k]) => k.startsWith(`${REPO} `));
        const prod = await declare({}, "prod");
        assert.equal(reposOf(prod.options).length, 6);
        assert.ok(reposOf(prod.options).every(([, o]) => o.protect === true && o.retainOnDelete === true), JSON.stringify(reposOf(prod.options)));
        assert.equal(prod.registry.isProtected, true);
        const dev = await declare({}, "dev");
        assert.ok(reposOf(dev.options).every(([, o]) => !o.protect && !o.retainOnDelete));
        const optOut = await declare({ protect: false }, "prod");
        assert.ok(reposOf(optOut.options).every(([, o]) => !o.protect && !o.retainOnDelete));
    });

    it("hands ECR's token to docker-build as a secret and its repositories to ImageFamily", async () => {
        const { resources, registry } = await declare({}, "dev", true);
        assert.equal(await pulumi.isSecret(registry.password), true);
        assert.equal(await value(registry.address), HOST);
        assert.equal(await value(registry.username), "AWS");
        for (const r of [...builds(resources), ...indexes(resources)]) {
            const creds = r.type.endsWith("Image") ? r.inputs.registries : r.inputs.registry;
            assert.ok(isSecret(creds) || JSON.stringify(creds).includes("4dabf18193072939515e22adb298388d"), `${r.name} leaks the token`);
            assert.equal(plain(r).registries?.[0]?.password ?? plain(r).registry?.password, "mock-ecr-password");
        }
        const runtime = plain(byName(resources, "fam-runtime-amd64"));
        assert.match(runtime.tags[0], new RegExp(`^${HOST}/imagefleet/dev/runtime:build-[0-9a-f]{12}-amd64$`));
        assert.equal(runtime.cacheTo[0].registry.ref, `${HOST}/imagefleet/dev/runtime-cache:main-amd64`);
    });

    it("rejects bad arguments naming each key, before declaring anything", async () => {
        const err = await rejection({ images: ["Runtime", "ok", "ok"], encryption: "RSA" as never, kmsKey: "k", cacheExpiryDays: 0, prefix: "Bad Prefix" });
        assert.match(err.message, /^EcrRegistry "reg" \(stack "dev"\) is invalid/);
        assertMentions(err.message, [
            'images[0]: "Runtime" is not an image name',
            'images[2]: "ok" is listed twice',
            'prefix: "Bad Prefix" is not a valid ECR repository path',
            'encryption: "RSA" is not valid; valid: "AES256", "KMS"',
            "kmsKey: only used with encryption \"KMS\"",
            "cacheExpiryDays: must be a whole number of days (at least 1), got 0",
        ]);
        assert.deepEqual(err.resources, []);
    });
});

describe("GHCR registry", () => {
    it("pushes to ghcr.io/<owner> (lowercased) with the token kept secret", async () => {
        const { resources } = await evaluate({
            stack: "dev",
            program: () => new ImageFamily("fam", familyArgs({ registry: ghcrRegistry({ owner: "Example-Org", username: "bot", token: "ghp_secret" }) })),
        });
        const runtime = byName(resources, "fam-runtime-amd64");
        assert.match(plain(runtime).tags[0], /^ghcr\.io\/example-org\/runtime:/);
        assert.ok(isSecret(runtime.inputs.registries) || JSON.stringify(runtime.inputs.registries).includes("4dabf18193072939515e22adb298388d"));
        assert.equal(plain(runtime).registries[0].password, "ghp_secret");
    });

    it("names the owner and the token when they are missing or invalid", () => {
        assert.throws(() => ghcrRegistry({ owner: "-bad-", username: "", token: "" }, "dev"), (err: Error) =>
            err instanceof ValidationError && /owner: "-bad-" is not a GitHub user/.test(err.message) && /username: must not be empty/.test(err.message) && /token: must not be empty/.test(err.message));
    });
});

describe("stack registry config (imagefleet:registryKind, imagefleet:ecr)", () => {
    const configError = stackConfigError;

    it("names the key, the value and the stack for bad ECR and GHCR settings, before declaring anything", async () => {
        const ecr = await configError("staging", ['imagefleet:ecr={"encryption": "RSA", "retention": 3}']);
        assert.match(ecr.message, /^stack config \(stack "staging"\) is invalid/);
        assert.ok(ecr.message.includes('imagefleet:ecr.retention: unknown key'), ecr.message);
        const bad = await configError("staging", ['imagefleet:ecr={"encryption": "RSA"}', "imagefleet:registryKind=ecr"]);
        assert.ok(bad.message.includes('imagefleet:ecr.encryption: "RSA" is not valid; valid: "AES256", "KMS"'), bad.message);
        const ghcr = await configError("dev", ["imagefleet:registryKind=ghcr"]);
        assertMentions(ghcr.message, ['imagefleet:registry: address must be "ghcr.io"', "imagefleet:registry: username is required for ghcr", "imagefleet:registryPassword: required for ghcr"]);
        const kind = await configError("dev", ["imagefleet:registryKind=quay"]);
        assert.ok(kind.message.includes('imagefleet:registryKind: "quay" is not valid; valid: "static", "ecr", "ghcr"'), kind.message);
        for (const err of [ecr, bad, ghcr, kind]) {
            assert.deepEqual(err.resources, []);
        }
    });
});
