// A BuildKit release tarball, laid out as BuildKit's own release (its
// Dockerfile's `releaser` stage: every binary under `bin/`), made from what
// this machine has: buildkitd and buildctl built from BuildKit's Go module
// (scripts/build-tools.sh), Debian's runc as `buildkit-runc`, and Debian's
// CNI plugins as `buildkit-cni-*` (the release builds the same upstream
// plugins; the host's bridge network for RUN steps needs them). The release
// also ships QEMU helpers, which a fleet host (no emulation) does not use.
import * as fs from "fs";
import * as path from "path";
import { BUILDCTL, BUILDKITD } from "../fleet/buildkitd";
import { run } from "./host";

export interface ReleaseTarball {
    readonly file: string;
    /** The version `buildkitd --version` reports. */
    readonly version: string;
}

export function runcPath(): string | undefined {
    return ["/usr/sbin/runc", "/usr/bin/runc"].find((f) => fs.existsSync(f));
}

export function makeReleaseTarball(dir: string): ReleaseTarball {
    const runc = runcPath();
    if (!runc) {
        throw new Error("runc not found (apt-get install runc)");
    }
    const stage = path.join(dir, "release");
    fs.mkdirSync(path.join(stage, "bin"), { recursive: true });
    const cni = ["bridge", "loopback", "host-local", "firewall"].map((p) => [path.join("/usr/lib/cni", p), `buildkit-cni-${p}`]);
    for (const [from] of cni) {
        if (!fs.existsSync(from)) {
            throw new Error(`${from} not found (apt-get install containernetworking-plugins)`);
        }
    }
    for (const [from, name] of [[BUILDKITD, "buildkitd"], [BUILDCTL, "buildctl"], [runc, "buildkit-runc"], ...cni]) {
        fs.copyFileSync(from, path.join(stage, "bin", name));
        fs.chmodSync(path.join(stage, "bin", name), 0o755);
    }
    const version = / (v\d+\.\d+\.\d+\S*) /.exec(run(BUILDKITD, ["--version"]).out)?.[1];
    if (!version) {
        throw new Error(`cannot read the version of ${BUILDKITD}`);
    }
    const file = path.join(dir, `buildkit-${version}.linux-amd64.tar.gz`);
    // gzip -1: the tarball only crosses a veth link, and CPU is what this machine lacks.
    const r = run("tar", ["-C", stage, "--owner=0", "--group=0", "--sort=name", "-I", "gzip -1", "-cf", file, "bin"]);
    if (r.code !== 0) {
        throw new Error(`tar: ${r.out}`);
    }
    fs.rmSync(stage, { recursive: true, force: true });
    return { file, version };
}
