import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";
import { BUILD_NETWORK, BuildkitdTomlOptions, HOST_PATHS, renderBuildkitdToml } from "./buildkitdToml";
import { IDLE_STOP_PATH, idleStopScript, idleStopUnits } from "./idleStop";
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
    /** The host's attestor, when the fleet has one (`BuilderFleetArgs.attestor`). */
    readonly attestor?: HostAttestor;
}

export interface HostAttestor {
    /** The tarball's URL template (`{arch}`), `AttestorSpec.releaseUrl`. */
    readonly releaseUrl: string;
    /** cosign's reference to the KMS key: `awskms:///<key ARN>`. */
    readonly keyRef: string;
    /** `runDetails.builder.id` of every provenance the host signs. */
    readonly builderId: string;
    /** ECR registries (`<account>.dkr.ecr.<region>.amazonaws.com`) cosign and syft log in to with the host's role. */
    readonly ecrRegistries: readonly string[];
}

/** The builder identity a host's attestor writes, and verification expects (`checks.ts`). */
export function attestorBuilderId(hostName: string, builderName: string): string {
    return `https://imagefleet.dev/attestor/v1/${hostName}/${builderName}`;
}

/** The ECR registry of a repository ARN (`arn:aws:ecr:eu-west-1:123…:repository/x` → `123….dkr.ecr.eu-west-1.amazonaws.com`). */
export function ecrRegistryOf(repositoryArn: string): string | undefined {
    const m = /^arn:aws(-cn|-us-gov)?:ecr:([a-z0-9-]+):(\d{12}):repository\//.exec(repositoryArn);
    return m ? `${m[3]}.dkr.ecr.${m[2]}.amazonaws.com${m[1] === "-cn" ? ".cn" : ""}` : undefined;
}

/** Where the attestor lives on a host: the tarball's `bin/`, its state (attested.jsonl, failed.jsonl), its registry login. */
export const ATTESTOR_PATHS = {
    home: "/usr/local/lib/imagefleet-attestor",
    state: "/var/lib/imagefleet-attestor",
    dockerConfig: "/etc/imagefleet-attestor",
} as const;

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

/** Installs the attestor's tarball and checks it holds what the unit runs. */
const INSTALL_ATTESTOR = (a: HostAttestor, platform: FleetPlatform) => {
    const ecr = a.ecrRegistries.length > 0;
    const tools = ["imagefleet-attestor", "cosign", "syft", ...(ecr ? ["docker-credential-ecr-login"] : [])];
    return `# The attestor and the tools it runs (cosign, syft${ecr ? ", the ECR login helper" : ""}).
mkdir -p ${ATTESTOR_PATHS.home} ${ATTESTOR_PATHS.state}
curl -fsSL --retry 5 '${a.releaseUrl.replaceAll("{arch}", SHORT_ARCH[platform])}' | tar -xz -C ${ATTESTOR_PATHS.home}
for tool in ${tools.join(" ")}; do
  [[ -x ${ATTESTOR_PATHS.home}/bin/$tool ]] || { echo "the attestor tarball has no bin/$tool" >&2; exit 1; }
done
`;
};

const SETUP = (u: UserDataInputs) => {
    const v = u.buildkitVersion;
    const url = buildkitTarballUrl(u);
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
${u.attestor ? INSTALL_ATTESTOR(u.attestor, u.platform) : ""}systemctl daemon-reload
# buildkitd is Type=notify: this waits until it serves, so a host that cannot start it fails its first boot visibly.
systemctl enable --now buildkitd.service${u.attestor ? " imagefleet-attestor.service" : ""}${u.idleStopMinutes > 0 ? " imagefleet-idle-stop.timer" : ""}
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
 * The attestor's unit. It reads buildkitd's build history over the root-only
 * socket and signs with the KMS key through the instance role (IMDSv2, which
 * build containers cannot reach), so it restarts with buildkitd and keeps
 * trying while the socket is not there yet.
 */
const ATTESTOR_UNIT = (a: HostAttestor) => {
    // The key's region, for the AWS SDK inside cosign (a key ARN names it; the instance profile does not).
    const region = /^awskms:\/\/\/arn:[^:]+:kms:([a-z0-9-]+):/.exec(a.keyRef)?.[1];
    return `[Unit]
Description=imagefleet attestor: signs what this host's buildkitd pushes
After=buildkitd.service
Requires=buildkitd.service

[Service]
Environment=PATH=${ATTESTOR_PATHS.home}/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin
Environment=DOCKER_CONFIG=${ATTESTOR_PATHS.dockerConfig}
${region ? `Environment=AWS_REGION=${region}\n` : ""}ExecStart=${ATTESTOR_PATHS.home}/bin/imagefleet-attestor --addr unix://${HOST_PATHS.attestorSocket} \\
  --key ${a.keyRef} --builder-id ${a.builderId} --state ${ATTESTOR_PATHS.state}
Restart=always
RestartSec=5
# Builds are on the deploy's critical path and the attestor is not: syft and
# cosign, its children, take the cores only when buildkitd leaves them idle.
Nice=10

[Install]
WantedBy=multi-user.target
`;
};

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
            ...(u.attestor ? [
                file("/etc/systemd/system/imagefleet-attestor.service", ATTESTOR_UNIT(u.attestor)),
                // cosign and syft log in to ECR with the host's role through the helper; other registries are anonymous.
                file(`${ATTESTOR_PATHS.dockerConfig}/config.json`, JSON.stringify({
                    credHelpers: Object.fromEntries(u.attestor.ecrRegistries.map((r) => [r, "ecr-login"])),
                }, null, 2) + "\n", "0600"),
            ] : []),
            file(IDLE_STOP_PATH, idleStopScript({ attestor: u.attestor !== undefined }), "0755"),
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
