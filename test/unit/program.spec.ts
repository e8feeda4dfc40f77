import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { isSecret } from "../../scripts/harness/mocks";
import { assertMentions, builds, byName, fixtureImages, indexes, plain, runStack, SHA, stackConfigError } from "./helpers";

const run = runStack;
const configError = stackConfigError;

const fixtureFamily = `imagefleet:images=${JSON.stringify(fixtureImages)}`;

describe("the program (index.ts) on stack config", () => {
    it("builds the example family on the local stack: images × platforms builds, one index per image", async () => {
        const { resources } = await run("local");
        const imgs = builds(resources);
        assert.equal(imgs.length, 3 * 2);
        for (const img of imgs) {
            const i = plain(img);
            assert.equal(i.platforms.length, 1);
            assert.equal(i.builder.name, `imagefleet-local-${i.platforms[0].split("/")[1]}`);
            assert.equal(i.buildArgs.BASE_IMAGE, "registry.localhost:5000/base/debian:bookworm");
        }
        const tags = plain(byName(resources, "example-tags")).tags as Record<string, string>;
        for (const image of ["dev-env", "artifact", "runtime"]) {
            const idx = byName(resources, `example-${image}`);
            assert.equal(plain(idx).sources.length, 2);
            assert.match(plain(idx).tag, new RegExp(`^registry.localhost:5000/imagefleet/${image}:index-[0-9a-f]{12}$`));
            const at = `registry.localhost:5000/imagefleet/${image}@${(idx.state.ref as string).split("@")[1]}`;
            assert.deepEqual([tags[`registry.localhost:5000/imagefleet/${image}:${SHA.slice(0, 12)}`], tags[`registry.localhost:5000/imagefleet/${image}:local`]], [at, at]);
        }
    });

    it("writes only the current branch's cache ref and reads it before main's", async () => {
        const { resources } = await run("dev", [fixtureFamily, "imagefleet:gitBranch=feature-x"]);
        for (const img of builds(resources)) {
            const i = plain(img);
            assert.equal(i.cacheTo.length, 1);
            assert.doesNotMatch(i.cacheTo[0].registry.ref, /:main-/);
            assert.match(i.cacheFrom[0].registry.ref, /:feature-x-(amd64|arm64)$/);
            assert.match(i.cacheFrom[1].registry.ref, /:main-(amd64|arm64)$/);
        }
    });

    it("applies variants from config", async () => {
        const { resources } = await run("dev", [fixtureFamily, `imagefleet:variants=${JSON.stringify({ release: { PROFILE: "release" }, perf: { PROFILE: "performance" } })}`]);
        assert.equal(builds(resources).length, (1 + 2 + 2) * 2);
        assert.equal(plain(byName(resources, "example-runtime-perf-amd64")).buildArgs.PROFILE, "performance");
    });

    it("takes the runtime's artifact from a local directory when artifactSource is local, staging only what the runtime reads of it", async () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "imagefleet-local-artifact-"));
        fs.mkdirSync(path.join(dir, "artifact", "bin"), { recursive: true });
        fs.writeFileSync(path.join(dir, "artifact", "bin", "hello"), "binary");
        fs.writeFileSync(path.join(dir, "artifact", "build.log"), "not read by runtime.Dockerfile");
        try {
            const { resources } = await run("local", ["imagefleet:artifactSource=local", `imagefleet:localArtifactDir=${dir}`]);
            assert.deepEqual(builds(resources).map((b) => plain(b).labels["dev.imagefleet.image"]).sort(), ["dev-env", "dev-env", "runtime", "runtime"]);
            const named = plain(byName(resources, "example-runtime-arm64")).context.named;
            assert.match(named.artifact.location, /^node_modules\/\.cache\/imagefleet\/contexts\/local\/example\/imagefleet-local-artifact-[^/]+-[0-9a-f]{8}\/context$/);
            assert.ok(fs.existsSync(path.join(named.artifact.location, "artifact", "bin", "hello")), "COPY --from=artifact /artifact/bin/hello");
            assert.ok(!fs.existsSync(path.join(named.artifact.location, "artifact", "build.log")), "a file the runtime does not read is not staged");
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });

    it("keeps the registry password a secret from config to every resource", async () => {
        const { resources } = await run("local", [], { "imagefleet:registryPassword": "s3cret" });
        for (const r of [...builds(resources), ...indexes(resources)]) {
            const creds = r.type.endsWith("Image") ? r.inputs.registries : r.inputs.registry;
            assert.ok(isSecret(creds) || JSON.stringify(creds).includes("4dabf18193072939515e22adb298388d"), r.name);
        }
    });

    it("rejects an unsupported platform naming the key, the value and the stack", async () => {
        const err = await configError("local", ['imagefleet:platforms=["linux/arm65"]']);
        assert.match(err.message, /stack config \(stack "local"\) is invalid/);
        assert.match(err.message, /imagefleet:platforms\[0\]: "linux\/arm65" is not a supported platform; valid: "linux\/amd64", "linux\/arm64"/);
        assert.deepEqual(err.resources, []);
    });

    it("rejects a cycle and an unknown from in a configured family", async () => {
        const cyclic = fixtureImages.map((i) => (i.name === "dev-env" ? { ...i, from: ["runtime"] } : i));
        const cycle = await configError("local", [`imagefleet:images=${JSON.stringify(cyclic)}`]);
        assert.match(cycle.message, /stack config \(stack "local"\)[\s\S]*imagefleet:images: from has a cycle: dev-env -> runtime -> artifact -> dev-env/);
        const unknown = fixtureImages.map((i) => (i.name === "runtime" ? { ...i, from: ["artefact"] } : i));
        const err = await configError("local", [`imagefleet:images=${JSON.stringify(unknown)}`]);
        assert.match(err.message, /imagefleet:images\[2\]\.from\.artefact: "artefact" is not an image of this family; valid: "dev-env", "artifact"/);
    });

    it("rejects malformed keys, a password in plain config, and a missing builder", async () => {
        const err = await configError("local", [
            "imagefleet:builders={\"linux/amd64\": \"only-amd64\"}",
            "imagefleet:registry={\"address\": \"r\", \"password\": \"plain\"}",
            "imagefleet:push=yes",
            "imagefleet:gitSha=not-a-sha",
            "imagefleet:fallbackBranches=main",
        ]);
        assertMentions(err.message, [
            'imagefleet:builders: platform "linux/arm64"',
            "imagefleet:registry.password: put the password in the secret key imagefleet:registryPassword",
            'imagefleet:push: must be true or false, got "yes"',
            'imagefleet:gitSha: "not-a-sha" is not a commit SHA',
            'imagefleet:fallbackBranches: must be a list of branch names, e.g. ["main"], got "main"; in YAML, a list is [a, b]',
        ]);
    });
});
