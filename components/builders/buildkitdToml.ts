/** Where a host keeps BuildKit's files; the user data and the e2e test share these paths. */
export const HOST_PATHS = {
    config: "/etc/buildkit/buildkitd.toml",
    tlsDir: "/etc/buildkit/tls",
    root: "/var/lib/buildkit",
    /** The attestor's own way in: a root-only unix socket, never a TCP port. */
    attestorSocket: "/run/buildkit/attestor.sock",
} as const;

/**
 * The network build containers get: a bridge of their own (BuildKit's
 * `bridge` mode, with the CNI plugins its release tarball ships as
 * `buildkit-cni-*`), which host/isolate-builds.sh fences off from the host
 * and the metadata service.
 */
export const BUILD_NETWORK = { bridgeName: "buildkit0", subnet: "10.10.0.0/16" } as const;

export interface BuildkitdTomlOptions {
    /** Address buildkitd listens on. The hosts use `0.0.0.0`; the security group decides who reaches it. */
    readonly listenAddress: string;
    readonly port: number;
    /** Directory holding `ca.pem`, `cert.pem` and `key.pem`. */
    readonly tlsDir: string;
    /** BuildKit's state directory (the cache volume on a host). */
    readonly root: string;
    /**
     * The host's own platform, listed first so BuildKit reports it as the
     * worker's default. (BuildKit adds platforms it can emulate; the hosts
     * install no QEMU, so a foreign-arch RUN fails instead of crawling.)
     */
    readonly platform: string;
    readonly gc: {
        readonly maxUsedGiB: number;
        readonly minFreeGiB: number;
        readonly keepDuration: string;
    };
    /** Extra CA certificate files per registry host, for registries with a private CA. Default: none. */
    readonly registryCAs?: Readonly<Record<string, readonly string[]>>;
    /** Tracing socket; only set when several buildkitd share a machine (the e2e tier). Default: buildkitd's own. */
    readonly otelSocketPath?: string;
    /** The build containers' bridge. Default: `BUILD_NETWORK`. */
    readonly buildNetwork?: { readonly bridgeName: string; readonly subnet: string };
    /** The attestor's unix socket (root only). Default: `HOST_PATHS.attestorSocket`. */
    readonly attestorSocket?: string;
}

const q = (s: string) => JSON.stringify(s);

/**
 * The `buildkitd.toml` a fleet host runs with: gRPC on TCP only (no unix socket
 * left open to local users), TLS with a client CA — which makes buildkitd
 * require and verify a client certificate — and GC sized to the cache volume.
 */
export function renderBuildkitdToml(o: BuildkitdTomlOptions): string {
    const lines = [
        "# Written by imagefleet's BuilderFleet. Edit the fleet's arguments, not this file: a change replaces the host.",
        `root = ${q(o.root)}`,
        "",
        "[grpc]",
        // The unix socket is root's alone (uid/gid 0): the attestor reads the build history through it.
        `  address = [${q(`tcp://${o.listenAddress}:${o.port}`)}, ${q(`unix://${o.attestorSocket ?? HOST_PATHS.attestorSocket}`)}]`,
        "  [grpc.tls]",
        `    cert = ${q(`${o.tlsDir}/cert.pem`)}`,
        `    key = ${q(`${o.tlsDir}/key.pem`)}`,
        `    ca = ${q(`${o.tlsDir}/ca.pem`)}`,
        ...(o.otelSocketPath ? ["", "[otel]", `  socketPath = ${q(o.otelSocketPath)}`] : []),
        "",
        "[worker.oci]",
        "  enabled = true",
        `  platforms = [${q(o.platform)}]`,
        // RUN steps get a bridge of their own, not the host's network (isolate-builds.sh fences it).
        '  networkMode = "bridge"',
        `  bridgeName = ${q((o.buildNetwork ?? BUILD_NETWORK).bridgeName)}`,
        `  bridgeSubnet = ${q((o.buildNetwork ?? BUILD_NETWORK).subnet)}`,
        "  gc = true",
        // Worker-wide limits apply when a policy below leaves them unset.
        `  maxUsedSpace = ${q(`${o.gc.maxUsedGiB}GB`)}`,
        `  minFreeSpace = ${q(`${o.gc.minFreeGiB}GB`)}`,
        "",
        // First drop what is cheap to recreate and old; then everything, down to the limits.
        "  [[worker.oci.gcpolicy]]",
        `    keepDuration = ${q(o.gc.keepDuration)}`,
        `    filters = ["type==source.local", "type==exec.cachemount", "type==source.git.checkout"]`,
        "  [[worker.oci.gcpolicy]]",
        "    all = true",
        `    maxUsedSpace = ${q(`${o.gc.maxUsedGiB}GB`)}`,
        `    minFreeSpace = ${q(`${o.gc.minFreeGiB}GB`)}`,
        "",
        "[worker.containerd]",
        "  enabled = false",
    ];
    for (const [host, cas] of Object.entries(o.registryCAs ?? {})) {
        // http = false: BuildKit otherwise assumes plain HTTP for localhost.
        lines.push("", `[registry.${q(host)}]`, "  http = false", `  ca = [${cas.map(q).join(", ")}]`);
    }
    return lines.join("\n") + "\n";
}
