// A signing stack and a promoting stack on one registry, for the supply chain
// specs: the local stack (in a copy of the project, with its registry and
// namespace set per run) builds, signs and attests with `pulumi up`; a second
// stack promotes from it with verification. The specs run the same checks on
// distribution's registry (fallback tag) and on one with the referrers API.
import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as zlib from "zlib";
import { CosignKey, keyFrom, RegistryClient } from "./forge";
import { copyProject, requireEngine, Run, runSha, sh } from "./support";

export const IMAGES = ["dev-env", "artifact", "runtime"];
export const SOURCE_REPOSITORY = "https://github.com/example-org/imagefleet";
export const BUILDERS = ["imagefleet-local-amd64", "imagefleet-local-arm64"];

export const ok = (r: Run): Run => {
    assert.equal(r.code, 0, `${r.stdout.slice(-6000)}\n${r.stderr.slice(-6000)}`);
    return r;
};

/** A promotion's output: every line of both streams. */
export const outputOf = (r: Run) => `${r.stdout}\n${r.stderr}`;

export class SupplyChainStacks {
    readonly sha = runSha();
    readonly tag = this.sha.slice(0, 12);
    readonly registry: RegistryClient;
    /** The building stack's namespace, unique to this run. */
    readonly namespace: string;
    readonly promotedNs: string;
    dir = "";
    env: NodeJS.ProcessEnv = {};
    /** The building stack's outputs (`pulumi stack output --json --show-secrets`). */
    outputs: any = {};
    /** The building stack's own key, read from its state: what an insider with the key could sign with. */
    key!: CosignKey;
    /** The building stack's state as exported after its first `up`. */
    private saved = "";

    constructor(readonly host: string, readonly label: string) {
        this.registry = new RegistryClient(host);
        this.namespace = `imagefleet-${label}-${this.tag}`;
        this.promotedNs = `imagefleet-${label}-promoted-${this.tag}`;
    }

    /** The project copy and its state backend; the local stack set to this registry and namespace. */
    setup(): void {
        requireEngine();
        for (const tool of ["pulumi", "cosign", "syft"]) {
            assert.equal(sh("bash", ["-c", `command -v ${tool}`]).code, 0, `${tool} is not on PATH (scripts/build-tools.sh)`);
        }
        this.dir = copyProject(`imagefleet-${this.label}-`);
        const stackFile = path.join(this.dir, "stacks", "Pulumi.local.yaml");
        const text = fs.readFileSync(stackFile, "utf8");
        const edited = text.replace(/(imagefleet:registry:\n\s+address: )\S+(\n\s+namespace: )\S+/, `$1${this.host}$2${this.namespace}`);
        assert.notEqual(edited, text, `${stackFile} has no imagefleet:registry address and namespace to set`);
        fs.writeFileSync(stackFile, edited);
        this.env = {
            PULUMI_BACKEND_URL: `file://${this.backendDir()}`,
            PULUMI_CONFIG_PASSPHRASE: "imagefleet-local",
            GIT_COMMIT: this.sha,
            GIT_BRANCH: `e2e-${this.label}-${this.tag}`,
            IMAGEFLEET_SKIP_PROVISION: "1",
        };
    }

    private backend = "";
    /** The file backend's directory: every stack's state, its history and backups. */
    backendDir(): string {
        this.backend ||= fs.mkdtempSync(path.join(os.tmpdir(), "imagefleet-state-"));
        return this.backend;
    }

    /** `scripts/up-local.sh <args>`: Pulumi on the building stack. */
    local(...args: string[]): Run {
        return sh("bash", ["scripts/up-local.sh", ...args], { cwd: this.dir, env: this.env });
    }

    /** `pulumi <args>` on the promoting stack, the program run transpile-only as scripts/up-local.sh runs it. */
    promote(args: readonly string[], env: NodeJS.ProcessEnv = {}): Run {
        return sh("pulumi", [...args, "--stack", "local-promote", "--non-interactive"],
            { cwd: this.dir, env: { ...this.env, PULUMI_NODEJS_TRANSPILE_ONLY: "true", ...env } });
    }

    /** `pulumi up` on the building stack, then its outputs and key. */
    build(): Run {
        const r = ok(this.local("up", "--yes"));
        this.outputs = JSON.parse(ok(this.local("stack", "output", "--json", "--show-secrets")).stdout);
        const plain = JSON.parse(ok(this.local("stack", "export", "--show-secrets")).stdout);
        const pair = plain.deployment.resources.find((x: any) => x.type === "pulumi-nodejs:dynamic/supplychain:CosignKeyPair").outputs;
        const secret = (v: any) => (typeof v === "string" ? v : JSON.parse(v.plaintext));
        this.key = keyFrom(this.dir, "stack", secret(pair.privateKey), secret(pair.password), this.outputs.supplychain.verifyKey);
        return r;
    }

    /** Writes the promoting stack's config (verify against the building stack's key and builders) and creates it. */
    initPromote(): void {
        this.saved = ok(this.local("stack", "export")).stdout;
        const stackFile = [
            "config:",
            `  imagefleet:registry: {"address": "${this.host}", "namespace": "${this.promotedNs}"}`,
            "  imagefleet:platforms: [linux/amd64, linux/arm64]",
            "  imagefleet:promoteFrom: organization/imagefleet/local",
            "  imagefleet:supplychain:",
            `    sourceRepository: ${SOURCE_REPOSITORY}`,
            "    verify:",
            `      key: ${JSON.stringify(this.outputs.supplychain.verifyKey)}`,
            `      builders: [${BUILDERS.join(", ")}]`,
        ].join("\n");
        fs.writeFileSync(path.join(this.dir, "stacks", "Pulumi.local-promote.yaml"), stackFile + "\n");
        ok(sh("pulumi", ["stack", "init", "local-promote", "--secrets-provider", "passphrase", "--non-interactive"], { cwd: this.dir, env: this.env }));
    }

    /** The building stack's repository of an image, without the registry host. */
    repo(image: string): string {
        return `${this.namespace}/${image}`;
    }

    /** Rewrites one image's ref in the building stack's outputs, as someone with write access to its state could. */
    swapSourceRef(image: string, ref: string): void {
        this.swapSourceRefs({ [image]: ref });
    }

    /** Rewrites images' refs in the building stack's outputs (the others as built). */
    swapSourceRefs(refs: Record<string, string>): void {
        const state = JSON.parse(this.saved);
        const stackRes = state.deployment.resources.find((r: any) => r.type === "pulumi:pulumi:Stack");
        Object.assign(stackRes.outputs.refs, refs);
        fs.writeFileSync(path.join(this.dir, "tampered.json"), JSON.stringify(state));
        ok(this.local("stack", "import", "--file", path.join(this.dir, "tampered.json")));
    }

    /** The building stack's state as it was after its first `up`. */
    restore(): void {
        fs.writeFileSync(path.join(this.dir, "saved.json"), this.saved);
        ok(this.local("stack", "import", "--file", path.join(this.dir, "saved.json")));
    }

    /** Every prod tag (the SHA tag and the environment tag of each image) → digest, read from the registry. */
    async promotedTags(): Promise<Record<string, string | null>> {
        return Object.fromEntries(await Promise.all(IMAGES.flatMap((image) => [this.tag, "local-promote"]
            .map(async (t) => [`${image}:${t}`, (await this.registry.get(`${this.promotedNs}/${image}`, t)).digest ?? null]))));
    }

    /** The genuine index digest the building stack published for an image. */
    digestOf(image: string): string {
        return this.outputs.refs[image].split("@")[1];
    }
}

/** The statements `cosign verify-attestation` printed (one DSSE envelope per line). */
export function statements(r: Run): { subject: { digest: { sha256: string } }[]; predicateType: string; predicate: any }[] {
    return r.stdout.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(Buffer.from(JSON.parse(l).payload, "base64").toString("utf8")));
}

/** cosign with the building stack's public key, as anyone verifying by hand would. */
export function verifier(stacks: SupplyChainStacks) {
    const pub = () => {
        const file = path.join(stacks.dir, "cosign.pub");
        fs.writeFileSync(file, stacks.outputs.supplychain.verifyKey);
        return file;
    };
    return {
        verify: (ref: string) => sh("cosign", ["verify", "--key", pub(), "--insecure-ignore-tlog=true", ref]),
        attested: (ref: string, type: string) => sh("cosign", ["verify-attestation", "--key", pub(), "--insecure-ignore-tlog=true", "--type", type, ref]),
    };
}

/** The predicate types of the bundles a digest's referrers carry, and where the registry keeps them. */
export async function referrerTypes(stacks: SupplyChainStacks, repo: string, digest: string): Promise<{ api: boolean; types: string[] }> {
    const { api, manifests } = await stacks.registry.referrers(repo, digest);
    const types = await Promise.all(manifests.map(async (d) => (await stacks.registry.get(repo, d.digest)).body?.annotations?.["dev.sigstore.bundle.predicateType"] as string));
    return { api, types: types.sort() };
}

export function itVerifiesEveryIndex(stacks: SupplyChainStacks): void {
    it("cosign verify and verify-attestation (SPDX and SLSA provenance) pass for every index the stack published", () => {
        const { verify, attested } = verifier(stacks);
        assert.deepEqual(Object.keys(stacks.outputs.supplychain.signed).sort(), [...IMAGES].sort());
        for (const image of IMAGES) {
            const ref: string = stacks.outputs.refs[image];
            assert.equal(ref.split("@")[1], stacks.outputs.supplychain.signed[image]);
            for (const r of [verify(ref), attested(ref, "slsaprovenance1"), attested(ref, "spdxjson")]) {
                assert.equal(r.code, 0, `${image}: ${r.stderr.slice(-2000)}`);
            }
            const prov = statements(attested(ref, "slsaprovenance1")).find((s) => s.predicateType === "https://slsa.dev/provenance/v1")!;
            assert.equal(`sha256:${prov.subject[0].digest.sha256}`, ref.split("@")[1]);
            assert.equal(prov.predicate.buildDefinition.externalParameters.source.commit, stacks.sha, `${image}: the index provenance does not name the commit`);
            assert.equal(statements(attested(ref, "spdxjson")).length, 2, `${image}: the index does not carry both platforms' SBOMs`);
        }
    });
}

export function itPromotesTheGenuineSource(stacks: SupplyChainStacks): void {
    it("promotes the genuine source: every prod tag points at the digest the source stack signed", async () => {
        stacks.restore();
        const r = ok(stacks.promote(["up", "--yes"]));
        console.log(`      promotion with verification: ${r.seconds.toFixed(0)} s`);
        const now = await stacks.promotedTags();
        for (const image of IMAGES) {
            assert.equal(now[`${image}:${stacks.tag}`], stacks.digestOf(image), `${image}:${stacks.tag}`);
            assert.equal(now[`${image}:local-promote`], stacks.digestOf(image), `${image}:local-promote`);
        }
    });
}

/** Every file under `dir`, as text (gunzipped where Pulumi compressed it). */
function filesUnder(dir: string): { file: string; text: string }[] {
    return fs.readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => {
        const file = path.join(e.parentPath, e.name);
        const bytes = fs.readFileSync(file);
        return { file, text: (bytes[0] === 0x1f && bytes[1] === 0x8b ? zlib.gunzipSync(bytes) : bytes).toString("utf8") };
    });
}

/**
 * Key custody: the signing key and its password reach the state only as
 * Pulumi secrets. Every file of the file backend (each stack's state, its
 * backups and history) is read, dynamic providers' serialized code
 * (`__provider`) included, for the PEM's header and any line of its body, and
 * for the password.
 */
export function describeKeyCustody(stacks: SupplyChainStacks): void {
    // A suite of its own, so that it runs after the suites declared before it (the promotion's), whose stacks it searches too.
    describe("key custody", () => itKeepsKeyMaterialOutOfState(stacks));
}

function itKeepsKeyMaterialOutOfState(stacks: SupplyChainStacks): void {
    it("no signing key or password anywhere in the state files (history, backups and dynamic providers' code included): only as secrets", () => {
        const privateKey = fs.readFileSync(stacks.key.file, "utf8");
        const body = privateKey.split("\n").filter((l) => l.length >= 16 && !l.startsWith("-----"));
        assert.ok(body.length > 0, "the key read from the state has no PEM body");
        const needles = ["PRIVATE KEY", stacks.key.password, ...body];
        const files = filesUnder(stacks.backendDir());
        const states = files.filter((f) => /\/\.pulumi\/stacks\/imagefleet\/local(-promote)?\.json$/.test(f.file));
        assert.equal(states.length, 2, `expected the states of both stacks among ${files.map((f) => f.file).join(", ")}`);
        for (const { file, text } of files) {
            for (const needle of needles) {
                assert.ok(!text.includes(needle), `${file} holds key material in plaintext (${needle === stacks.key.password ? "the password" : needle.slice(0, 12)}…)`);
            }
        }
        // It is there, encrypted: the key pair's outputs are secrets (ciphertext), and so is every resource's `signing`.
        const state = JSON.parse(ok(stacks.local("stack", "export")).stdout);
        const pair = state.deployment.resources.find((r: any) => r.type === "pulumi-nodejs:dynamic/supplychain:CosignKeyPair");
        for (const k of ["privateKey", "password"]) {
            assert.ok(pair.outputs[k]?.ciphertext, `the key pair's ${k} is not a secret in the state`);
        }
        const attestations = state.deployment.resources.filter((r: any) => /dynamic\/supplychain:(Platform|Index)Attestation$/.test(r.type));
        assert.ok(attestations.length > 0);
        for (const r of attestations) {
            assert.ok(r.inputs.signing?.ciphertext, `${r.urn}: signing is not a secret`);
            assert.equal(typeof r.inputs.__provider, "string", `${r.urn}: no serialized provider`);
        }
        console.log(`      ${files.length} state files searched (${states.length} stack states), ${needles.length} needles`);
    });
}
