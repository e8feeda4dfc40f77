import * as pulumi from "@pulumi/pulumi";

/** The platforms EC2 has native hosts for. */
export type FleetPlatform = "linux/amd64" | "linux/arm64";

export const FLEET_PLATFORMS: readonly FleetPlatform[] = ["linux/amd64", "linux/arm64"];

/** One platform's hosts. */
export interface NodeGroupSpec {
    /**
     * EC2 instance type. Its family must match the platform: a Graviton family
     * (`c7g.2xlarge`, `m7g`, `c6g`, `t4g`, …) for `linux/arm64`, an x86 family
     * (`c7i.2xlarge`, `c7a`, `m6i`, …) for `linux/amd64`. Required.
     */
    readonly instanceType: string;
    /**
     * Hosts of this platform: the size of its builder pool. Each host is a
     * buildx builder of its own (`<prefix>-<arch>`, then `<prefix>-<arch>-1`,
     * …), and a family given the fleet's `builders` sends each of the
     * platform's builds to one of them by hashing its image and variant, so
     * every host builds its share and keeps its own cache warm. Default: `1`.
     */
    readonly count?: number;
}

/** BuildKit garbage collection limits, written to `buildkitd.toml`. */
export interface GcSpec {
    /** Cache BuildKit may keep, in GiB. Default: 80 % of `cacheVolumeGiB`. */
    readonly maxUsedGiB?: number;
    /** Free space GC tries to leave on the cache volume, in GiB. Default: 10 % of `cacheVolumeGiB`. */
    readonly minFreeGiB?: number;
    /** Age after which unused local sources and cache mounts are dropped first. Default: `"168h"` (a week). */
    readonly keepDuration?: string;
}

/**
 * An attestor beside each host's buildkitd: for every image the host pushes it
 * signs the provenance BuildKit recorded and a syft SBOM of the pushed
 * manifest with a KMS key only the hosts' role may use, so builds on the
 * fleet leave `pulumi up`'s critical path (`SupplyChainArgs.attestors`).
 */
export interface AttestorSpec {
    /**
     * Where a host downloads the attestor on first boot: an `http(s)` URL in
     * which `{arch}` stands for the host's architecture (`amd64`, `arm64`).
     * The tarball holds `bin/imagefleet-attestor`, `bin/cosign`, `bin/syft`
     * and, for ECR, `bin/docker-credential-ecr-login`, all built from their
     * Go modules by `scripts/attestor-release.sh`; host it where the hosts can
     * read it (an S3 bucket, an artifact proxy). Required.
     */
    readonly releaseUrl: string;
    /**
     * ARN of an existing KMS key to sign with (key spec `ECC_NIST_P256`,
     * usage `SIGN_VERIFY`); the hosts' role is allowed `kms:Sign` on it, and
     * its key policy is yours to keep that the only one. Default: the fleet
     * makes the key (alias `alias/imagefleet/<fleet>/attestor`) with a policy
     * that denies `kms:Sign` to every principal but the hosts' role, and keeps
     * it when the fleet is destroyed, so what it signed stays verifiable.
     */
    readonly kmsKeyArn?: string;
}

/** Arguments of `BuilderFleet`. */
export interface BuilderFleetArgs {
    /** VPC the hosts run in. Required. */
    readonly vpcId: pulumi.Input<string>;
    /** Subnets the hosts are spread over (round-robin). Required, at least one. */
    readonly subnetIds: readonly pulumi.Input<string>[];
    /**
     * CIDRs that may reach the BuildKit port (CI runners, office, VPN). Required,
     * at least one; nothing else is let in, on any port.
     */
    readonly allowedCidrs: readonly string[];
    /** Allow `0.0.0.0/0` or `::/0` in `allowedCidrs`. Default: `false`; mTLS still applies. */
    readonly allowPublicIngress?: boolean;
    /**
     * Give each host an Elastic IP and use it as the endpoint (for clients outside
     * the VPC). Default: `false`; the endpoint is the host's private IP.
     */
    readonly publicEndpoint?: boolean;
    /** Hosts per platform. Required, at least one platform. */
    readonly nodes: Readonly<Partial<Record<FleetPlatform, NodeGroupSpec>>>;
    /** Run hosts as persistent spot instances that stop (not terminate) when interrupted. Default: `false` (on-demand). */
    readonly spot?: boolean;
    /** Size of each host's encrypted BuildKit cache volume in GiB. Default: `100`. */
    readonly cacheVolumeGiB?: number;
    /** BuildKit GC limits. Default: see `GcSpec`. */
    readonly gc?: GcSpec;
    /** Stop a host after this many minutes with no build activity; `0` never stops. Default: `30`. */
    readonly idleStopMinutes?: number;
    /** BuildKit release installed on the hosts (`vX.Y.Z`). Default: `"v0.34.2"`. */
    readonly buildkitVersion?: string;
    /**
     * Where a host downloads BuildKit on first boot: an `http(s)` URL in which
     * `{version}` stands for `buildkitVersion` and `{arch}` for the host's
     * architecture (`amd64`, `arm64`). The file must be a BuildKit release
     * tarball (`bin/buildkitd`, `bin/buildctl`, `bin/buildkit-runc`, …) of that
     * version; first boot fails if `buildkitd --version` says otherwise. Set it
     * to a mirror (an S3 bucket, an artifact proxy) when hosts cannot reach
     * GitHub, e.g. in private subnets without a NAT gateway. Default: BuildKit's
     * GitHub release,
     * `"https://github.com/moby/buildkit/releases/download/{version}/buildkit-{version}.linux-{arch}.tar.gz"`.
     */
    readonly buildkitReleaseUrl?: string;
    /** TCP port buildkitd listens on. Default: `1234`. */
    readonly port?: number;
    /**
     * ARNs of the family's image and cache repositories; the hosts' role may pull
     * and push these and no other repository. Default: none (no ECR access).
     */
    readonly repositoryArns?: readonly pulumi.Input<string>[];
    /** EC2 key pair for SSH. Default: none; use SSM Session Manager. */
    readonly keyName?: pulumi.Input<string>;
    /** AMI per platform. Default: the latest Amazon Linux 2023 of the platform's architecture. */
    readonly amis?: Readonly<Partial<Record<FleetPlatform, pulumi.Input<string>>>>;
    /** Prefix of the buildx builder names (`<prefix>-amd64`, `<prefix>-amd64-1`, …, `<prefix>-arm64`). Default: the component name. */
    readonly builderNamePrefix?: string;
    /**
     * Register one buildx `remote` builder per host on the machine running
     * `pulumi up`, so an ImageFamily in the same program can build on the fleet.
     * Default: `true`.
     */
    readonly register?: boolean;
    /** Validity of the CA and certificates in hours; they are renewed on `pulumi up` 30 days before expiry. Default: `8760` (a year). */
    readonly certValidityHours?: number;
    /** Tags added to every AWS resource. Default: none (the fleet adds `imagefleet:fleet`). */
    readonly tags?: Readonly<Record<string, string>>;
    /**
     * Run an attestor beside every host's buildkitd (`AttestorSpec`). Adding,
     * changing or removing it changes the user data, so hosts are replaced.
     * Default: none (the deploying program attests the fleet's builds).
     */
    readonly attestor?: AttestorSpec;
}

export const DEFAULTS = {
    cacheVolumeGiB: 100,
    rootVolumeGiB: 30,
    idleStopMinutes: 30,
    buildkitVersion: "v0.34.2",
    buildkitReleaseUrl: "https://github.com/moby/buildkit/releases/download/{version}/buildkit-{version}.linux-{arch}.tar.gz",
    port: 1234,
    keepDuration: "168h",
    certValidityHours: 8760,
} as const;

/** Arguments of `BuildxRegistration` (BuilderFleet declares one per platform). */
export interface BuildxRegistrationArgs {
    /** buildx builder name. Required. */
    readonly builderName: pulumi.Input<string>;
    /** The one platform the builder's nodes build. Required. */
    readonly platform: pulumi.Input<string>;
    /** The hosts, in order; the first is the builder's first node. Required, at least one. */
    readonly nodes: pulumi.Input<pulumi.Input<{
        /** `tcp://host:port`. Required. */
        readonly endpoint: pulumi.Input<string>;
        /** The name the host's certificate is verified against. Required. */
        readonly serverName: pulumi.Input<string>;
    }>[]>;
    /** CA certificate the hosts' certificates are checked against. Required. */
    readonly caPem: pulumi.Input<string>;
    /** Client certificate. Required. */
    readonly certPem: pulumi.Input<string>;
    /** Client key. Required; always kept a secret. */
    readonly keyPem: pulumi.Input<string>;
    /** Directory for the certificate files. Default: `~/.imagefleet/buildx/<builderName>`. */
    readonly certDir?: pulumi.Input<string>;
    /**
     * Seconds to wait after registering until the builder answers (a new host
     * installs buildkitd on first boot), so builds in the same `pulumi up` do
     * not race it. Default: `0` (no wait).
     */
    readonly waitSeconds?: pulumi.Input<number>;
}

/** CPU and memory of the BuildKit pod, in Kubernetes' units. */
export interface PodResources {
    /** CPU units, e.g. `"4"` or `"500m"`. Default: none. */
    readonly cpu?: string;
    /** Memory, e.g. `"8Gi"`. Default: none. */
    readonly memory?: string;
}

/** Arguments of `KubernetesBuilder`. */
export interface KubernetesBuilderArgs {
    /** buildx builder name; also the name of its BuildKit Deployment. Lower case letters, digits and '-'. Required. */
    readonly builderName: pulumi.Input<string>;
    /** The one platform it builds (`linux/amd64`, `linux/arm64`). Required. */
    readonly platform: pulumi.Input<string>;
    /** Namespace of the Deployment. Default: the kubeconfig context's. */
    readonly namespace?: pulumi.Input<string>;
    /** Labels a node must have. Default: `{"kubernetes.io/arch": <the platform's arch>}`, so builds run natively. */
    readonly nodeSelector?: pulumi.Input<Readonly<Record<string, string>>>;
    /** CPU and memory the pod requests (`{"cpu": "4", "memory": "8Gi"}`). Default: none. */
    readonly requests?: pulumi.Input<PodResources>;
    /** CPU and memory limits of the pod. Default: none. */
    readonly limits?: pulumi.Input<PodResources>;
    /** BuildKit image of the pod. Default: buildx's (`moby/buildkit:buildx-stable-1`). */
    readonly image?: pulumi.Input<string>;
    /** Run BuildKit rootless. Default: `false`. */
    readonly rootless?: pulumi.Input<boolean>;
}
