import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";
import { BUILD_NETWORK, BuildkitdTomlOptions, HOST_PATHS, renderBuildkitdToml } from "./buildkitdToml";
import { IDLE_STOP_PATH, IDLE_STOP_SCRIPT, idleStopUnits } from "./idleStop";
import { BuilderFleetArgs, DEFAULTS, FleetPlatform } from "./types";
import { SHORT_ARCH } from "./validate";

/** Block device the cache volume is attached as; Amazon Linux links it to the NVMe device. */
export const CACHE_DEVICE = "/dev/sdf";

export interface HostConfig {
    readonly platform: FleetPlatform;
    readonly buildkitVersion: string;
    /** URL template of the release tarball (`{version}`, `{arch}`); see `BuilderFleetArgs.buildkitReleaseUrl`. */
    readonly buildkitReleaseUrl: string;
    readonly port: number;
    readonly idleStopMinutes: number;
    readonly gc: { readonly maxUsedGiB: number; readonly minFreeGiB: number; readonly keepDuration: string };
}

/** A host's settings from the fleet's arguments, defaults applied; GC is sized from the cache volume. */
export function hostConfigOf(args: BuilderFleetArgs, platform: FleetPlatform): HostConfig {
    const volume = args.cacheVolumeGiB ?? DEFAULTS.cacheVolumeGiB;
    return {
        platform,
        port: args.port ?? DEFAULTS.port,
        buildkitVersion: args.buildkitVersion ?? DEFAULTS.buildkitVersion,
        buildkitReleaseUrl: args.buildkitReleaseUrl ?? DEFAULTS.buildkitReleaseUrl,
        idleStopMinutes: args.idleStopMinutes ?? DEFAULTS.idleStopMinutes,
        gc: {
            maxUsedGiB: args.gc?.maxUsedGiB ?? Math.floor(volume * 0.8),
            minFreeGiB: args.gc?.minFreeGiB ?? Math.floor(volume * 0.1),
            keepDuration: args.gc?.keepDuration ?? DEFAULTS.keepDuration,
        },
    };
}

export interface UserDataInputs extends HostConfig {
    readonly caPem: string;
    readonly certPem: string;
    /** SSM SecureString holding the host's TLS key; fetched at every start, never in user data. */
    readonly keyParameter: string;
}

export type HostOverrides = Partial<Pick<BuildkitdTomlOptions,
    "listenAddress" | "tlsDir" | "root" | "registryCAs" | "otelSocketPath" | "buildNetwork" | "attestorSocket">>;

/** Where the host's firewall script is installed. */
export const ISOLATE_BUILDS_PATH = "/usr/local/bin/imagefleet-isolate-builds";

/**
 * host/isolate-builds.sh, the one script the fleet's hosts and the e2e tier's
 * local hosts both run. components/builders (ts-node) and dist/builders (the
 * package) are both two levels below the package root.
 */
export function isolateBuildsScript(): string {
    return fs.readFileSync(path.resolve(__dirname, "..", "..", "host", "isolate-builds.sh"), "utf8");
}

/** The host's `buildkitd.toml`: the one rendering both the user data and the e2e test use (the test overrides paths and address). */
export function hostBuildkitdToml(host: HostConfig, overrides: HostOverrides = {}): string {
    return renderBuildkitdToml({
        listenAddress: overrides.listenAddress ?? "0.0.0.0",
        port: host.port,
        tlsDir: overrides.tlsDir ?? HOST_PATHS.tlsDir,
        root: overrides.root ?? HOST_PATHS.root,
        platform: host.platform,
        gc: host.gc,
        registryCAs: overrides.registryCAs,
        otelSocketPath: overrides.otelSocketPath,
        buildNetwork: overrides.buildNetwork,
        attestorSocket: overrides.attestorSocket,
    });
}

const FETCH_KEY = (parameter: string) => `#!/bin/bash
# Fetches this host's TLS key from SSM so it never sits in user data, which
# anyone allowed ec2:DescribeInstanceAttribute can read.
set -euo pipefail
token=$(curl -fsS -X PUT http://169.254.169.254/latest/api/token -H "X-aws-ec2-metadata-token-ttl-seconds: 60")
region=$(curl -fsS -H "X-aws-ec2-metadata-token: $token" http://169.254.169.254/latest/meta-data/placement/region)
umask 077
aws ssm get-parameter --region "$region" --name ${JSON.stringify(parameter)} --with-decryption \\
  --query Parameter.Value --output text >${HOST_PATHS.tlsDir}/key.pem.new
mv ${HOST_PATHS.tlsDir}/key.pem.new ${HOST_PATHS.tlsDir}/key.pem
`;

/** The tarball a host installs: the fleet's URL template with its version and architecture filled in. */
export function buildkitTarballUrl(host: Pick<HostConfig, "buildkitReleaseUrl" | "buildkitVersion" | "platform">): string {
    return host.buildkitReleaseUrl.replaceAll("{version}", host.buildkitVersion).replaceAll("{arch}", SHORT_ARCH[host.platform]);
}

const SETUP = (host: HostConfig) => {
    const v = host.buildkitVersion;
    const url = buildkitTarballUrl(host);
    return `#!/bin/bash
# First boot: format the cache volume, install buildkitd, start it (which mounts the volume).
set -euo pipefail
for _ in $(seq 60); do [[ -e ${CACHE_DEVICE} ]] && break; sleep 2; done
dev=$(readlink -f ${CACHE_DEVICE})
blkid "$dev" >/dev/null || mkfs.xfs -q "$dev"
curl -fsSL --retry 5 '${url}' | tar -xz -C /usr/local
# The build bridge's fence (imagefleet-isolate-builds) needs iptables; Amazon Linux 2023 packages it as iptables-nft.
command -v iptables >/dev/null || dnf install -y -q iptables-nft
# A mirror (buildkitReleaseUrl) may serve another release than the fleet asks for.
version=$(/usr/local/bin/buildkitd --version)
[[ " $version " == *" ${v} "* ]] || { echo "the tarball installed $version, not ${v}" >&2; exit 1; }
# Every provenance BuildKit records names the version the host runs (internalParameters.buildkitVersion).
mkdir -p /etc/buildkit/provenance.d
printf '{"buildkitVersion": "%s"}\n' "${v}" >/etc/buildkit/provenance.d/buildkit.json
systemctl daemon-reload
# buildkitd is Type=notify: this waits until it serves, so a host that cannot start it fails its first boot visibly.
systemctl enable --now buildkitd.service ${host.idleStopMinutes > 0 ? "imagefleet-idle-stop.timer" : ""}
`;
};

/** systemd's name for the mount unit of a path (`/var/lib/buildkit` → `var-lib-buildkit.mount`); the paths here need no escaping. */
export function mountUnitName(where: string): string {
    if (!/^(\/[a-z0-9_]+)+$/.test(where)) {
        throw new Error(`${where} would need systemd-escape`);
    }
    return `${where.slice(1).replaceAll("/", "-")}.mount`;
}

/**
 * The cache volume's mount, as a unit rather than an fstab line: it exists
 * from the first boot on, whether or not fstab is read (systemd skips fstab's
 * device entries in a container), so buildkitd's RequiresMountsFor always has
 * a unit to require. The device path is the one the fleet's block device
 * mapping names; Amazon Linux's udev rules link it to the NVMe device.
 */
const CACHE_MOUNT_UNIT = `[Unit]
Description=BuildKit cache volume (imagefleet)

[Mount]
What=${CACHE_DEVICE}
Where=${HOST_PATHS.root}
Type=xfs
Options=defaults
`;

const BUILDKITD_UNIT = `[Unit]
Description=BuildKit daemon (imagefleet)
After=network-online.target
Wants=network-online.target
# Requires and follows the cache volume's mount; the assertion keeps buildkitd
# off the root volume even if the mount unit were ever missing.
RequiresMountsFor=${HOST_PATHS.root}
AssertPathIsMountPoint=${HOST_PATHS.root}

[Service]
# buildkitd tells systemd when it serves.
Type=notify
ExecStartPre=/usr/local/bin/imagefleet-fetch-key
# iptables rules do not survive a reboot: fence the build bridge every start.
ExecStartPre=${ISOLATE_BUILDS_PATH} ${BUILD_NETWORK.subnet}
ExecStart=/usr/local/bin/buildkitd --config ${HOST_PATHS.config}
Restart=always
RestartSec=5
LimitNOFILE=1048576

[Install]
WantedBy=multi-user.target
`;

/**
 * The host's cloud-init: buildkitd.toml, the CA and server certificate (public),
 * a key fetcher, the systemd units and the idle-stop timer, then a first-boot
 * setup. Cloud-init writes files only on the first boot, so the fleet replaces a
 * host when this text changes.
 */
export function renderUserData(u: UserDataInputs): string {
    const units = idleStopUnits(u.idleStopMinutes, u.port);
    const file = (path: string, content: string, permissions = "0644") => ({ path, permissions, owner: "root:root", content });
    const doc = {
        write_files: [
            file(HOST_PATHS.config, hostBuildkitdToml(u)),
            file(`${HOST_PATHS.tlsDir}/ca.pem`, u.caPem),
            file(`${HOST_PATHS.tlsDir}/cert.pem`, u.certPem),
            file("/usr/local/bin/imagefleet-fetch-key", FETCH_KEY(u.keyParameter), "0755"),
            file(ISOLATE_BUILDS_PATH, isolateBuildsScript(), "0755"),
            file("/usr/local/bin/imagefleet-setup", SETUP(u), "0755"),
            file(`/etc/systemd/system/${mountUnitName(HOST_PATHS.root)}`, CACHE_MOUNT_UNIT),
            file("/etc/systemd/system/buildkitd.service", BUILDKITD_UNIT),
            file(IDLE_STOP_PATH, IDLE_STOP_SCRIPT, "0755"),
            file("/etc/systemd/system/imagefleet-idle-stop.service", units.service),
            file("/etc/systemd/system/imagefleet-idle-stop.timer", units.timer),
        ],
        runcmd: [["/usr/local/bin/imagefleet-setup"]],
    };
    return "#cloud-config\n" + YAML.stringify(doc, { lineWidth: 0 });
}

/** Pulls one file's content back out of rendered user data (tests, debugging). */
export function userDataFile(userData: string, path: string): string | undefined {
    const doc = YAML.parse(userData) as { write_files?: { path: string; content: string }[] };
    return doc.write_files?.find((f) => f.path === path)?.content;
}
