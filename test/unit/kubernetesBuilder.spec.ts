// KubernetesBuilder: a buildx builder made with the kubernetes driver, for a
// family's pool. What it registers is checked against buildx itself where it
// is installed (buildx registers a kubernetes builder without reaching the
// cluster; the pod is made on first use), and against a stand-in that logs
// its arguments everywhere.
import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { KubernetesBuilder } from "../../components/builders";
import { kubernetesBuilderProvider, KubernetesBuilderState, kubernetesCreateArgs } from "../../components/builders/kubernetesBuilder";
import { ImageFamily } from "../../components/images";
import { ValidationError } from "../../components/errors";
import { evaluate } from "../../scripts/harness/mocks";
import { familyArgs, plain } from "./helpers";

const state = (over: Partial<KubernetesBuilderState> = {}): KubernetesBuilderState => ({
    builderName: "ci-arm64-a", platform: "linux/arm64", namespace: "builds",
    requests: { cpu: "4", memory: "8Gi" }, limits: { memory: "16Gi" }, ...over,
});

describe("KubernetesBuilder (buildx kubernetes driver)", () => {
    let dir: string;
    let saved: NodeJS.ProcessEnv;
    beforeEach(() => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "imagefleet-k8s-"));
        saved = { ...process.env };
        process.env.BUILDX_CONFIG = path.join(dir, "buildx");
        // A cluster that is never reached: buildx only records where it is.
        process.env.KUBECONFIG = path.join(dir, "kubeconfig");
        fs.writeFileSync(process.env.KUBECONFIG, [
            "apiVersion: v1", "kind: Config",
            "clusters: [{name: c, cluster: {server: 'https://127.0.0.1:1'}}]",
            "users: [{name: u, user: {token: x}}]",
            "contexts: [{name: x, context: {cluster: c, user: u, namespace: default}}]",
            "current-context: x", "",
        ].join("\n"));
    });
    afterEach(() => {
        process.env = saved;
        fs.rmSync(dir, { recursive: true, force: true });
    });

    it("registers with buildx itself: kubernetes driver, one replica, the Deployment named after the builder, pinned to the platform's nodes", async function () {
        if (spawnSync("docker", ["buildx", "version"]).status !== 0) {
            this.skip();
        }
        delete process.env.IMAGEFLEET_DOCKER;
        const s = state();
        const created = await kubernetesBuilderProvider.create!(s);
        assert.equal(created.id, "ci-arm64-a");
        const instance = JSON.parse(fs.readFileSync(path.join(dir, "buildx", "instances", "ci-arm64-a"), "utf8"));
        assert.equal(instance.Driver, "kubernetes");
        assert.equal(instance.Nodes.length, 1);
        const node = instance.Nodes[0];
        assert.match(node.Endpoint, /^kubernetes:\/\/\/ci-arm64-a\?deployment=ci-arm64-a&/);
        assert.deepEqual(node.Platforms, [{ architecture: "arm64", os: "linux" }]);
        assert.deepEqual(node.DriverOpts, {
            namespace: "builds", replicas: "1", nodeselector: "kubernetes.io/arch=arm64",
            "requests.cpu": "4", "requests.memory": "8Gi", "limits.memory": "16Gi",
        });
        // Several node labels are one option; buildx reads it as such.
        await kubernetesBuilderProvider.update!("ci-arm64-a", s, state({ nodeSelector: { "kubernetes.io/arch": "arm64", "pool": "ci" } }));
        const again = JSON.parse(fs.readFileSync(path.join(dir, "buildx", "instances", "ci-arm64-a"), "utf8"));
        assert.equal(again.Nodes[0].DriverOpts.nodeselector, "kubernetes.io/arch=arm64,pool=ci");
        await kubernetesBuilderProvider.delete!("ci-arm64-a", s);
        assert.equal(fs.existsSync(path.join(dir, "buildx", "instances", "ci-arm64-a")), false);
    });

    it("runs docker buildx create with each option as its own --driver-opt, re-registers on a fresh machine, and removes on delete", async () => {
        fs.writeFileSync(path.join(dir, "docker"), `#!/bin/bash
echo "$*" >>${dir}/docker.log
if [[ $1 == buildx && $2 == create ]]; then
  mkdir -p "$BUILDX_CONFIG/instances" && touch "$BUILDX_CONFIG/instances/$4"
elif [[ $1 == buildx && $2 == rm ]]; then
  rm -f "$BUILDX_CONFIG/instances/$3"
fi
`, { mode: 0o755 });
        process.env.IMAGEFLEET_DOCKER = path.join(dir, "docker");
        const log = () => fs.readFileSync(path.join(dir, "docker.log"), "utf8").trim().split("\n");
        const s = state({ nodeSelector: { "kubernetes.io/arch": "arm64", pool: "ci" }, image: "moby/buildkit:v0.34.2", rootless: true });
        assert.deepEqual(kubernetesCreateArgs(s), [
            "buildx", "create", "--name", "ci-arm64-a", "--node", "ci-arm64-a", "--driver", "kubernetes",
            "--driver-opt", "namespace=builds", "--driver-opt", "replicas=1", "--driver-opt", '"nodeselector=kubernetes.io/arch=arm64,pool=ci"',
            "--driver-opt", "requests.cpu=4", "--driver-opt", "requests.memory=8Gi", "--driver-opt", "limits.memory=16Gi",
            "--driver-opt", "image=moby/buildkit:v0.34.2", "--driver-opt", "rootless=true", "--platform", "linux/arm64",
        ]);
        const { outs } = await kubernetesBuilderProvider.create!(s);
        assert.equal(log().length, 1);
        assert.equal((await kubernetesBuilderProvider.diff!("id", outs, s)).changes, false);
        fs.rmSync(path.join(dir, "buildx"), { recursive: true });
        assert.equal((await kubernetesBuilderProvider.diff!("id", outs, s)).changes, true, "a fresh CI runner registers it again");
        assert.deepEqual((await kubernetesBuilderProvider.diff!("id", outs, { ...s, builderName: "ci-arm64-b" })).replaces, ["builderName"]);
        await kubernetesBuilderProvider.update!("id", outs, { ...s, limits: { memory: "32Gi" } });
        await kubernetesBuilderProvider.delete!("id", outs);
        assert.equal(log().pop(), "buildx rm ci-arm64-a");
    });

    it("several of them are a family's pool: each build on one, each check waiting for its registration", async () => {
        const { resources } = await evaluate({
            stack: "test",
            program: () => {
                const pool = ["a", "b", "c"].map((x) => new KubernetesBuilder(`k8s-arm64-${x}`, { builderName: `ci-arm64-${x}`, platform: "linux/arm64", namespace: "builds" }));
                new ImageFamily("fam", familyArgs({ builders: { "linux/amd64": "ci-amd64", "linux/arm64": pool.map((b, i) => ({ name: `ci-arm64-${"abc"[i]}`, ready: b.builderName })) } }));
            },
        });
        const registered = resources.filter((r) => r.type === "pulumi-nodejs:dynamic/builders:KubernetesBuilder").map((r) => [plain(r).builderName, plain(r).platform]);
        assert.deepEqual(registered, [["ci-arm64-a", "linux/arm64"], ["ci-arm64-b", "linux/arm64"], ["ci-arm64-c", "linux/arm64"]]);
        const arm = resources.filter((r) => r.type === "docker-build:index:Image" && r.name.endsWith("-arm64")).map((r) => plain(r).builder.name);
        assert.ok(arm.every((b) => /^ci-arm64-[abc]$/.test(b)), arm.join());
    });

    it("serializes as functions and node's own modules, never a module of ours", async () => {
        const provider = kubernetesBuilderProvider;
        const { text } = await pulumi.runtime.serializeFunction(() => provider, { allowSecrets: false });
        assert.deepEqual(text.match(/var __\w+_\d+ = /g) ?? [], [], "captures a module");
        const required = [...new Set(text.match(/require\("[^"]+"\)/g) ?? [])];
        assert.deepEqual(required.filter((r) => !/^require\("(child_process|fs|os|path)"\)$/.test(r)), [], required.join(", "));
    });

    it("refuses a name that cannot be a Deployment's and a platform it does not know, naming each key", async () => {
        const err = await evaluate({
            stack: "test",
            program: () => new KubernetesBuilder("k", { builderName: "CI_arm64", platform: "linux/sparc", namespace: "Builds", requests: { gpu: "1" } as never }),
        }).then(() => undefined, (e: Error) => e);
        assert.ok(err instanceof ValidationError, String(err));
        assert.match(err.message, /^KubernetesBuilder "k" \(stack "test"\) is invalid/);
        for (const key of ["builderName", "platform", "namespace", "requests.gpu"]) {
            assert.match(err.message, new RegExp(`  - ${key.replace(".", "\\.")}: `), key);
        }
    });
});
