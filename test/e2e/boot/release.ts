// A BuildKit release tarball, laid out as BuildKit's own release (its
// Dockerfile's `releaser` stage: every binary under `bin/`), made from what
// this machine has: buildkitd and buildctl built from BuildKit's Go module
// (scripts/build-tools.sh) and Debian's runc as `buildkit-runc`. The release
// also ships QEMU and CNI helpers, which a fleet host (no emulation, host
// network) does not use.
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
    for (const [from, name] of [[BUILDKITD, "buildkitd"], [BUILDCTL, "buildctl"], [runc, "buildkit-runc"]]) {
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
