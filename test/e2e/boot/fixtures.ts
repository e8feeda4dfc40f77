// What the boot test builds its host from: the boot image, the fleet's
// arguments and rendering, and the family it builds through the host.
import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as YAML from "yaml";
import { BuilderFleetArgs } from "../../../components/builders";
import { BUILDCTL, BUILDKITD, buildctl, ClientTls } from "../fleet/buildkitd";
import { Project } from "../project";
import { parseProgress, ROOT, Step } from "../support";
import { Link, run } from "./host";
import { runcPath } from "./release";
import { RenderedHost, RenderRequest } from "./render";

export const CACHE_DIR = process.env.IMAGEFLEET_CACHE_DIR ?? "/var/cache/imagefleet";
/** Shortened for the test (the dev stack stops after 20): the shortest the fleet allows. */
export const IDLE_MINUTES = 1;

/**
 * Where the hosts' root filesystems and cache volumes go: /dev/shm when it has
 * room (about 1.5 GiB is used), so their writes and removal cost no disk I/O,
 * which other builds on the machine wait on; else the temporary directory.
 */
export function workDir(): string {
    const shm = "/dev/shm";
    try {
        const st = fs.statfsSync(shm);
        if (st.bavail * st.bsize >= 4 * 1024 ** 3) {
            return shm;
        }
    } catch {
        // No /dev/shm.
    }
    return os.tmpdir();
}

/** The boot image test/e2e/setup.sh made (test/e2e/boot/image.sh), newest first. */
export function bootImage(): string | undefined {
    const dir = path.join(CACHE_DIR, "rootfs");
    const images = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => /^boot-host-bookworm-amd64-\w+\.tar$/.test(f)) : [];
    return images.map((f) => path.join(dir, f)).sort((a, b) => fs.statSync(b).mtimeMs - fs.statSync(a).mtimeMs)[0];
}

/** scripts/build-tools.sh's binaries; the attestor's tarball is packed from them. */
export const TOOLS_BIN = path.join(process.env.IMAGEFLEET_TOOLS_DIR ?? path.join(os.homedir(), ".cache", "imagefleet", "tools"), "bin");
const ATTESTOR_TOOLS = ["imagefleet-attestor", "cosign", "syft"];

/** The attestor's tarball for amd64, as a fleet user makes it (scripts/attestor-release.sh), from the tools this machine built. */
export function makeAttestorTarball(dir: string): string {
    const file = path.join(dir, "imagefleet-attestor-linux-amd64.tar.gz");
    const r = run("bash", [path.join(ROOT, "scripts", "attestor-release.sh"), "--arch", "amd64", "--from-bin", TOOLS_BIN, file], 120_000);
    if (r.code !== 0) {
        throw new Error(`scripts/attestor-release.sh failed: ${r.out}`);
    }
    return file;
}

/** What this machine needs for the test, as a list of what is missing. */
export function missing(): string[] {
    const has = (cmd: string) => run("bash", ["-c", `command -v ${cmd}`]).code === 0;
    return [
        ...(process.getuid?.() === 0 ? [] : ["root"]),
        ...["systemd-nspawn", "nsenter", "losetup", "iptables", "journalctl", "ip"].filter((c) => !has(c)),
        ...(bootImage() ? [] : [`the boot image in ${CACHE_DIR}/rootfs (test/e2e/setup.sh)`]),
        ...[BUILDKITD, BUILDCTL, ...ATTESTOR_TOOLS.map((t) => path.join(TOOLS_BIN, t))].filter((f) => !fs.existsSync(f)),
        ...(runcPath() ? [] : ["runc"]),
    ];
}

/** The dev stack's fleet, for the one platform this machine runs natively, with the test's network and a 1-minute idle stop. */
export function fleetArgs(link: Link, releaseUrl: string, attestor?: BuilderFleetArgs["attestor"]): BuilderFleetArgs {
    const doc = YAML.parse(fs.readFileSync(path.join(ROOT, "stacks", "Pulumi.dev.yaml"), "utf8"));
    const dev = doc.config["imagefleet:fleet"];
    return {
        ...dev,
        nodes: { "linux/amd64": dev.nodes["linux/amd64"] },
        allowedCidrs: [`${link.outside}/32`],
        cacheVolumeGiB: 20,
        idleStopMinutes: IDLE_MINUTES,
        buildkitReleaseUrl: releaseUrl,
        repositoryArns: [],
        attestor,
    };
}

/** BuilderFleet's rendering, in a process of its own (the harness's mocks are process-wide). */
export function render(dir: string, req: RenderRequest): RenderedHost {
    const request = path.join(dir, "render-request.json");
    const result = path.join(dir, "render-result.json");
    fs.writeFileSync(request, JSON.stringify(req));
    const r = run(process.execPath, ["-r", "ts-node/register/transpile-only", path.join(__dirname, "render.ts"), request, result], 180_000);
    if (r.code !== 0) {
        throw new Error(`rendering the fleet failed: ${r.out}`);
    }
    return JSON.parse(fs.readFileSync(result, "utf8"));
}

/** A family of three busybox images (no network needed in RUN steps), unique to this run; every RUN prints, so its progress shows it ran. */
export function writeFamily(dir: string, id: string): object[] {
    fs.mkdirSync(path.join(dir, "src"), { recursive: true });
    fs.writeFileSync(path.join(dir, "src", "hello.txt"), `hello from boot test ${id}\n`);
    const from = "ARG BUSYBOX_IMAGE=busybox:1.36\n";
    fs.writeFileSync(path.join(dir, "dev-env.Dockerfile"), `${from}FROM \${BUSYBOX_IMAGE}\nRUN mkdir -p /toolchain && echo "toolchain 1" | tee /toolchain/VERSION\n`);
    fs.writeFileSync(path.join(dir, "artifact.Dockerfile"), `${from}FROM dev-env AS build\nCOPY src/ /src/\nRUN cat /toolchain/VERSION /src/hello.txt | tee /hello.txt\n`
        + "FROM ${BUSYBOX_IMAGE}\nCOPY --from=build /hello.txt /artifact/hello.txt\n");
    fs.writeFileSync(path.join(dir, "runtime.Dockerfile"), `${from}FROM \${BUSYBOX_IMAGE}\nCOPY --from=artifact /artifact/hello.txt /srv/hello.txt\nRUN cat /srv/hello.txt\n`);
    return [
        { name: "dev-env", kind: "dev-env", context: dir, dockerfile: "dev-env.Dockerfile" },
        { name: "artifact", kind: "artifact", context: dir, dockerfile: "artifact.Dockerfile", from: ["dev-env"] },
        { name: "runtime", kind: "runtime", context: dir, dockerfile: "runtime.Dockerfile", from: ["artifact"] },
    ];
}

/** A checkout of the project whose local stack builds `images` for linux/amd64 on `builder`, with no registry cache: every cache hit is the host's own. */
export function familyProject(branch: string, namespace: string, builder: string, images: object[]): Project {
    const project = new Project({ branch, namespace });
    const file = path.join(project.dir, "stacks", "Pulumi.local.yaml");
    const doc = YAML.parse(fs.readFileSync(file, "utf8"));
    delete doc.config["imagefleet:supplychain"];
    Object.assign(doc.config, {
        "imagefleet:platforms": ["linux/amd64"],
        "imagefleet:builders": { "linux/amd64": builder },
        "imagefleet:images": images,
        "imagefleet:cacheWrite": false,
    });
    fs.writeFileSync(file, YAML.stringify(doc));
    return project;
}

/** Every step of every build the host recorded since `since` (epoch ms): BuildKit's history and the progress it stored, not what a client relayed. */
export function stepsSince(endpoint: string, client: ClientTls, since: number): Step[] {
    const records = buildctl(endpoint, client, "debug", "histories", "--format", "{{json .}}");
    assert.equal(records.code, 0, records.out);
    const refs = records.out.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l).record)
        .filter((r) => Number(r.CreatedAt.seconds) * 1000 >= since - 1000).map((r) => String(r.Ref));
    return refs.flatMap((ref) => {
        const logs = buildctl(endpoint, client, "debug", "logs", "--progress", "plain", ref);
        assert.equal(logs.code, 0, logs.out);
        return parseProgress(logs.out);
    });
}

export const listSteps = (steps: Step[]): string => steps.map((s) => `${s.name} cached=${s.cached} ran=${s.ran}`).join("\n");
