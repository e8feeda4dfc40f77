// The real Pulumi engine, the real docker-build provider and the local
// buildkitd hosts (mTLS) on the `local` stack, through the README's main-job
// command (scripts/up-local.sh), in a throwaway copy of the project.
import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { copyProject, indexPlatforms, manifest, must, requireEngine, runSha, sh } from "./support";

const IMAGES = ["dev-env", "artifact", "runtime"];
const CERTS = path.join(process.env.IMAGEFLEET_STATE_DIR ?? "/var/lib/imagefleet-e2e", "buildkit", "certs");


describe("the real Pulumi engine on the local stack (pulumi preview, up, destroy)", function () {
    this.timeout(40 * 60 * 1000);
    const sha = runSha();
    const tag = sha.slice(0, 12);
    let dir = "";
    let env: NodeJS.ProcessEnv = {};
    const pulumi = (...args: string[]) => sh("bash", ["scripts/up-local.sh", ...args], { cwd: dir, env });
    const ok = (r: ReturnType<typeof sh>) => {
        assert.equal(r.code, 0, `${r.stdout.slice(-5000)}\n${r.stderr.slice(-5000)}`);
        return r;
    };

    before(() => {
        requireEngine();
        assert.equal(sh("bash", ["-c", "command -v pulumi"]).code, 0, "pulumi is not on PATH (scripts/build-tools.sh)");
        dir = copyProject("imagefleet-project-");
        env = {
            PULUMI_BACKEND_URL: `file://${fs.mkdtempSync(path.join(os.tmpdir(), "imagefleet-state-"))}`,
            PULUMI_CONFIG_PASSPHRASE: "imagefleet-local",
            GIT_COMMIT: sha,
            GIT_BRANCH: `e2e-pulumi-${tag}`,
            IMAGEFLEET_SKIP_PROVISION: "1",
        };
    });

    it("refuses a buildx client without the client certificate", () => {
        const r = sh("buildctl", ["--addr", "tcp://127.0.0.1:1234", "--tlsservername", "localhost", "--tlscacert", path.join(CERTS, "ca.pem"), "debug", "workers"]);
        assert.notEqual(r.code, 0);
        assert.match(r.stderr, /certificate required|tls|broken pipe|connection/i);
        const withCert = sh("buildctl", ["--addr", "tcp://127.0.0.1:1234", "--tlsservername", "localhost", "--tlscacert", path.join(CERTS, "ca.pem"),
            "--tlscert", path.join(CERTS, "client.pem"), "--tlskey", path.join(CERTS, "client-key.pem"), "debug", "workers"]);
        assert.equal(withCert.code, 0, withCert.stderr);
    });

    it("pulumi preview lists the family's resources", () => {
        const r = ok(pulumi("preview"));
        // Per image its builds and its index; the commit's and the environment's tags of every image are the family's TagSet.
        for (const name of [...IMAGES.flatMap((image) => [`example-${image}-amd64`, `example-${image}-arm64`, `example-${image}`]), "example-tags"]) {
            assert.match(r.stdout, new RegExp(`\\b${name}\\b.*create`), `${name} is not in the preview`);
        }
    });

    it("pulumi up builds both platforms on their builders and pushes indexes whose digests match the outputs", async () => {
        ok(pulumi("up", "--yes"));
        const outputs = JSON.parse(ok(pulumi("stack", "output", "--json")).stdout);
        for (const image of IMAGES) {
            const ref: string = outputs.refs[image];
            assert.match(ref, new RegExp(`^registry\\.localhost:5000/imagefleet/${image}:${tag}@sha256:[0-9a-f]{64}$`));
            const m = await manifest(`imagefleet/${image}`, tag);
            assert.equal(m.status, 200);
            assert.equal(m.digest, ref.split("@")[1], `the registry's ${image}:${tag} is not the stack output`);
            assert.deepEqual(indexPlatforms(m.body), ["linux/amd64", "linux/arm64"]);
        }
        // Each platform was built by its own buildkitd: both hold build records now.
        for (const port of [1234, 1235]) {
            const du = must("buildctl", ["--addr", `tcp://127.0.0.1:${port}`, "--tlsservername", "localhost", "--tlscacert", path.join(CERTS, "ca.pem"),
                "--tlscert", path.join(CERTS, "client.pem"), "--tlskey", path.join(CERTS, "client-key.pem"), "du"]);
            assert.match(du.stdout, /Total:\s+[1-9]/, `buildkitd on ${port} has no build records`);
        }
    });

    it("a second pulumi up reports no changes", () => {
        const r = ok(pulumi("up", "--yes", "--expect-no-changes"));
        // The stack and the family component; 12 for the family's resources (6 Images, 3 Indexes, the TagSet,
        // 2 builder checks); 12 for the supply chain (key component and key pair, component, one record per
        // per-platform digest (6) and one per index (3)).
        assert.match(r.stdout, /26 unchanged/);
    });

    it("a one-line change to the runtime Dockerfile updates only the runtime image's resources", () => {
        const file = path.join(dir, "example", "runtime.Dockerfile");
        fs.writeFileSync(file, fs.readFileSync(file, "utf8").replace("RUN /usr/local/bin/hello", `RUN /usr/local/bin/hello && echo ${tag} > /etc/imagefleet-change`));
        const preview = JSON.parse(ok(pulumi("preview", "--json")).stdout);
        const changed = (preview.steps as { op: string; urn: string }[])
            .filter((s) => s.op !== "same" && !s.urn.includes("pulumi:pulumi:Stack"))
            .map((s) => s.urn.split("::").pop()!);
        assert.ok(changed.length > 0, "the preview shows no change");
        // Besides the runtime's own resources: the builder check of each platform that now has a build to run,
        // and the family's TagSet, whose runtime tags move to the new index.
        const checks = changed.filter((n) => n.startsWith("example-builder-"));
        assert.deepEqual(checks.sort(), ["example-builder-amd64", "example-builder-arm64"], changed.join(", "));
        assert.ok(changed.includes("example-tags"), changed.join(", "));
        assert.deepEqual(changed.filter((n) => !n.startsWith("example-runtime") && !checks.includes(n) && n !== "example-tags"), [], `non-runtime resources change: ${changed.join(", ")}`);
        assert.ok(changed.includes("example-runtime-amd64") && changed.includes("example-runtime-arm64"), changed.join(", "));
        const diff = ok(pulumi("preview", "--diff")).stdout;
        assert.match(diff, /example-runtime-amd64/);
        assert.match(diff, /contextHash|dockerfile/);
        ok(pulumi("up", "--yes"));
    });

    it("pulumi destroy completes and leaves the pushed images in the registry (retain policy)", async () => {
        ok(pulumi("destroy", "--yes"));
        for (const image of IMAGES) {
            assert.equal((await manifest(`imagefleet/${image}`, tag)).status, 200, `${image}:${tag} was deleted`);
        }
    });
});
