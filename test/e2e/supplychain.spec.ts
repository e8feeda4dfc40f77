// The signed supply chain for real: `pulumi up` on the local stack with the
// Go-built cosign and syft against the local TLS registry, then a second local
// stack that promotes from it and must refuse tampered sources.
import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { copyProject, manifest, must, requireEngine, Run, runSha, sh, tags } from "./support";

const IMAGES = ["dev-env", "artifact", "runtime"];
const REGISTRY = "registry.localhost:5000";
const BUILDERS: Record<string, string> = { "linux/amd64": "imagefleet-local-amd64@127.0.0.1:1234", "linux/arm64": "imagefleet-local-arm64@127.0.0.1:1235" };


interface Statement { subject: { digest: { sha256: string } }[]; predicateType: string; predicate: any }

/** The statements `cosign verify-attestation` printed (one DSSE envelope per line). */
function statements(r: Run): Statement[] {
    return r.stdout.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(Buffer.from(JSON.parse(l).payload, "base64").toString("utf8")));
}

describe("signed supply chain on the local stack (real engine, cosign, syft, local registry)", function () {
    this.timeout(60 * 60 * 1000);
    const sha = runSha();
    const tag = sha.slice(0, 12);
    const promotedNs = `imagefleet-promoted-${tag}`;
    let dir = "";
    let env: NodeJS.ProcessEnv = {};
    let outputs: any = {};
    let keyFile = "";
    const local = (...args: string[]) => sh("bash", ["scripts/up-local.sh", ...args], { cwd: dir, env });
    const promote = (...args: string[]) => sh("pulumi", [...args, "--stack", "local-promote", "--non-interactive"], { cwd: dir, env });
    const ok = (r: Run) => {
        assert.equal(r.code, 0, `${r.stdout.slice(-6000)}\n${r.stderr.slice(-6000)}`);
        return r;
    };
    const cosign = (...args: string[]) => sh("cosign", args);
    const verify = (ref: string) => cosign("verify", "--key", keyFile, "--insecure-ignore-tlog=true", ref);
    const attested = (ref: string, type: string) => cosign("verify-attestation", "--key", keyFile, "--insecure-ignore-tlog=true", "--type", type, ref);
    const pinned = (ref: string) => ref.replace(/:[^:/@]+@/, "@");

    before(() => {
        requireEngine();
        for (const tool of ["pulumi", "cosign", "syft"]) {
            assert.equal(sh("bash", ["-c", `command -v ${tool}`]).code, 0, `${tool} is not on PATH (scripts/build-tools.sh)`);
        }
        dir = copyProject("imagefleet-supplychain-");
        env = {
            PULUMI_BACKEND_URL: `file://${fs.mkdtempSync(path.join(os.tmpdir(), "imagefleet-state-"))}`,
            PULUMI_CONFIG_PASSPHRASE: "imagefleet-local",
            GIT_COMMIT: sha,
            GIT_BRANCH: `e2e-supplychain-${tag}`,
            IMAGEFLEET_SKIP_PROVISION: "1",
        };
    });

    it("pulumi up builds the family, then signs every index and attests an SBOM and a SLSA provenance on every digest", () => {
        const r = ok(local("up", "--yes"));
        console.log(`      pulumi up: ${r.seconds.toFixed(0)} s`);
        outputs = JSON.parse(ok(local("stack", "output", "--json", "--show-secrets")).stdout);
        assert.match(outputs.supplychain.verifyKey, /^-----BEGIN PUBLIC KEY-----/);
        keyFile = path.join(dir, "cosign.pub");
        fs.writeFileSync(keyFile, outputs.supplychain.verifyKey);
        assert.deepEqual(Object.keys(outputs.supplychain.signed).sort(), [...IMAGES].sort());
    });

    it("keeps the private key and its password encrypted in the state", () => {
        const state = ok(local("stack", "export")).stdout;
        const plainState = JSON.parse(ok(local("stack", "export", "--show-secrets")).stdout);
        const pair = plainState.deployment.resources.find((r: any) => r.type === "pulumi-nodejs:dynamic/supplychain:CosignKeyPair");
        assert.match(pair.outputs.privateKey.plaintext ?? pair.outputs.privateKey, /ENCRYPTED SIGSTORE PRIVATE KEY/);
        const password = JSON.parse(pair.outputs.password.plaintext ?? JSON.stringify(pair.outputs.password));
        assert.ok(!state.includes("PRIVATE KEY"), "the private key is in the state in plaintext");
        assert.ok(!state.includes(String(password)), "the key's password is in the state in plaintext");
    });

    it("cosign verify and verify-attestation (SPDX and SLSA provenance) pass for every index the stack published", () => {
        for (const image of IMAGES) {
            const ref: string = outputs.refs[image];
            assert.equal(ref.split("@")[1], outputs.supplychain.signed[image]);
            for (const r of [verify(ref), attested(ref, "slsaprovenance1"), attested(ref, "spdxjson")]) {
                assert.equal(r.code, 0, `${image}: ${r.stderr.slice(-2000)}`);
            }
            const prov = statements(attested(ref, "slsaprovenance1")).find((s) => s.predicateType === "https://slsa.dev/provenance/v1")!;
            assert.equal(`sha256:${prov.subject[0].digest.sha256}`, ref.split("@")[1]);
            assert.equal(prov.predicate.buildDefinition.externalParameters.source.commit, sha, `${image}: the index provenance does not name the commit`);
            assert.equal(statements(attested(ref, "spdxjson")).length, 2, `${image}: the index does not carry both platforms' SBOMs`);
        }
    });

    it("each per-platform provenance names the commit, the builder and its host, the Dockerfile, and the digests it was built from", () => {
        for (const image of IMAGES) {
            for (const [platform, ref] of Object.entries<string>(outputs.platformRefs[image])) {
                const r = attested(pinned(ref), "slsaprovenance1");
                assert.equal(r.code, 0, `${image} ${platform}: ${r.stderr.slice(-2000)}`);
                const p = statements(r)[0].predicate;
                assert.equal(p.buildDefinition.externalParameters.source.commit, sha);
                assert.equal(p.buildDefinition.externalParameters.source.repository, "https://github.com/example-org/imagefleet");
                assert.equal(p.buildDefinition.externalParameters.dockerfile, `example/${image}.Dockerfile`);
                assert.equal(p.runDetails.builder.id, `buildx://${BUILDERS[platform]}`);
                // "context" (the staged context's digest) is there when the family stages contexts (issue 10).
                const deps = p.buildDefinition.resolvedDependencies.map((d: any) => d.name).filter((n: string) => n && n !== "context");
                const expected = { "dev-env": ["registry.localhost:5000/base/debian:bookworm"], artifact: ["dev-env", "registry.localhost:5000/base/busybox:1.36"],
                    runtime: ["artifact", "registry.localhost:5000/base/debian:bookworm"] }[image];
                assert.deepEqual(deps, expected, `${image} ${platform}`);
                for (const d of p.buildDefinition.resolvedDependencies.slice(1)) {
                    assert.match(d.digest?.sha256 ?? "", /^[0-9a-f]{64}$/, `${image} ${platform}: ${d.name} has no digest`);
                }
            }
        }
    });

    it("the dev-env image's SBOM lists gcc and libc", () => {
        const r = attested(pinned(outputs.platformRefs["dev-env"]["linux/amd64"]), "spdxjson");
        assert.equal(r.code, 0, r.stderr);
        const names: string[] = statements(r)[0].predicate.packages.map((p: any) => p.name);
        assert.ok(names.some((n) => /^gcc(-\d+)?$/.test(n)), `no gcc among ${names.length} packages`);
        assert.ok(names.includes("libc6") && names.includes("libc6-dev"), "no libc6/libc6-dev");
        const runtime = statements(attested(pinned(outputs.platformRefs.runtime["linux/arm64"]), "spdxjson"))[0].predicate.packages.map((p: any) => p.name);
        assert.ok(!runtime.some((n: string) => /^gcc(-\d+)?$/.test(n)), "the runtime image's SBOM lists gcc");
    });

    it("a second pulumi up with no change signs and attests nothing", () => {
        const r = ok(local("up", "--yes", "--expect-no-changes"));
        assert.doesNotMatch(r.stdout, /supplychain.*(created|updated|replaced)/);
    });

    describe("a second local stack promotes from the local stack, verifying first", () => {
        let saved = "";
        const promotedTags = async () => Object.fromEntries(await Promise.all(IMAGES.flatMap((image) =>
            [tag, "local-promote"].map(async (t) => [`${image}:${t}`, (await manifest(`${promotedNs}/${image}`, t)).digest ?? null]))));
        /** Rewrites one image's ref in the local stack's outputs, as someone with write access to its state could. */
        const swapSourceRef = (image: string, ref: string) => {
            const state = JSON.parse(saved);
            const stackRes = state.deployment.resources.find((r: any) => r.type === "pulumi:pulumi:Stack");
            stackRes.outputs.refs[image] = ref;
            fs.writeFileSync(path.join(dir, "tampered.json"), JSON.stringify(state));
            ok(local("stack", "import", "--file", path.join(dir, "tampered.json")));
        };
        const restore = () => {
            fs.writeFileSync(path.join(dir, "saved.json"), saved);
            ok(local("stack", "import", "--file", path.join(dir, "saved.json")));
        };

        before(() => {
            saved = ok(local("stack", "export")).stdout;
            const stackFile = [
                "config:",
                `  imagefleet:registry: {"address": "${REGISTRY}", "namespace": "${promotedNs}"}`,
                "  imagefleet:platforms: [linux/amd64, linux/arm64]",
                "  imagefleet:promoteFrom: organization/imagefleet/local",
                "  imagefleet:supplychain:",
                "    sourceRepository: https://github.com/example-org/imagefleet",
                "    verify:",
                `      key: ${JSON.stringify(outputs.supplychain.verifyKey)}`,
                "      builders: [imagefleet-local-amd64, imagefleet-local-arm64]",
            ].join("\n");
            fs.writeFileSync(path.join(dir, "stacks", "Pulumi.local-promote.yaml"), stackFile + "\n");
            ok(sh("pulumi", ["stack", "init", "local-promote", "--secrets-provider", "passphrase", "--non-interactive"], { cwd: dir, env }));
        });
        after(() => {
            if (saved) {
                restore();
            }
        });

        it("refuses an unsigned image pushed by hand under the source tag, naming the image and the check, and creates no tag", async () => {
            // The attacker pushes their image under the source's tag and points the source stack's output at it.
            const repo = `${REGISTRY}/imagefleet/runtime`;
            must("docker", ["buildx", "imagetools", "create", "-t", `${repo}:${tag}`, `${REGISTRY}/base/busybox:1.36`]);
            const forged = (await manifest("imagefleet/runtime", tag)).digest!;
            assert.notEqual(forged, outputs.refs.runtime.split("@")[1]);
            swapSourceRef("runtime", `${repo}:${tag}@${forged}`);
            const r = promote("up", "--yes");
            assert.notEqual(r.code, 0, "the promotion of a tampered source succeeded");
            const out = r.stdout + r.stderr;
            assert.match(out, /image "runtime" \([^)]*\): signature: no valid signature from the expected key/);
            assert.doesNotMatch(out, /image "dev-env"[^\n]*: /, "a genuine image was reported as failing");
            for (const image of IMAGES) {
                assert.deepEqual(await tags(`${promotedNs}/${image}`), [], `a tag was written for ${image}`);
            }
        });

        it("promotes the genuine source: every prod tag points at the digest the source stack signed", async () => {
            restore();
            const r = ok(promote("up", "--yes"));
            console.log(`      promotion with verification: ${r.seconds.toFixed(0)} s`);
            const now = await promotedTags();
            for (const image of IMAGES) {
                assert.equal(now[`${image}:${tag}`], outputs.refs[image].split("@")[1], `${image}:${tag}`);
                assert.equal(now[`${image}:local-promote`], outputs.refs[image].split("@")[1], `${image}:local-promote`);
            }
        });

        it("refuses a digest swapped in the source stack's outputs, naming the image, and moves no prod tag", async () => {
            const before = await promotedTags();
            // dev-env's amd64 manifest: in the right repository, attested, but never signed as an index.
            const amd64 = outputs.platformRefs["dev-env"]["linux/amd64"].split("@")[1];
            swapSourceRef("dev-env", `${REGISTRY}/imagefleet/dev-env:${tag}@${amd64}`);
            const r = promote("up", "--yes");
            assert.notEqual(r.code, 0, "the promotion of a swapped digest succeeded");
            assert.match(r.stdout + r.stderr, /image "dev-env" \([^)]*\): signature: /);
            assert.deepEqual(await promotedTags(), before, "a prod tag moved");
            restore();
            ok(promote("up", "--yes", "--expect-no-changes"));
        });
    });

    describe("a later commit", () => {
        it("re-attests exactly the digests that changed; a republished digest keeps the record naming the commit that built it", () => {
            type Res = { urn: string; type: string; outputs: any };
            const attestations = () => (JSON.parse(ok(local("stack", "export")).stdout).deployment.resources as Res[])
                .filter((r) => /dynamic\/supplychain:(Platform|Index)Attestation$/.test(r.type));
            const before = attestations();
            const next = runSha();
            const r = ok(sh("bash", ["scripts/up-local.sh", "up", "--yes"], { cwd: dir, env: { ...env, GIT_COMMIT: next } }));
            console.log(`      pulumi up of a new commit: ${r.seconds.toFixed(0)} s`);
            const after = new Map(attestations().map((a) => [a.urn, a]));
            let kept = 0;
            for (const old of before) {
                const now = after.get(old.urn)!;
                if (now.outputs.digest === old.outputs.digest) {
                    // Content-addressed builds (issue 10): same digest, nothing signed again.
                    assert.deepEqual(now.outputs, old.outputs, `${old.urn} was attested again for an unchanged digest`);
                    kept++;
                } else if (now.outputs.predicate) {
                    assert.equal(now.outputs.predicate.buildDefinition.externalParameters.source.commit, next, `${old.urn} names another commit`);
                }
            }
            console.log(`      ${kept} of ${before.length} attestations kept (digest unchanged), ${before.length - kept} made for new digests`);
        });
    });
});
