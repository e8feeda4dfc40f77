import * as pulumi from "@pulumi/pulumi";
import * as aws from "@pulumi/aws";
import { ValidationError } from "../errors";
import type { PoolBuilder } from "../images/types";
import { fleetCertificates, serverNameOf } from "./certificates";
import { BuildxRegistration } from "./registration";
import { BuilderFleetArgs, DEFAULTS, FLEET_PLATFORMS, FleetPlatform } from "./types";
import { attestorBuilderId, CACHE_DEVICE, ecrRegistryOf, hostConfigOf, renderUserData } from "./userData";
import { AMI_ARCHITECTURE, fleetProblems, isIpv6Cidr, SHORT_ARCH } from "./validate";

/** How long the registration waits for a new host's buildkitd (first boot installs it). */
const REGISTRATION_WAIT_SECONDS = 600;

/** Actions a BuildKit host needs on its family's repositories: pull, push, and cache import/export. */
const ECR_ACTIONS = [
    "ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer",
    "ecr:InitiateLayerUpload", "ecr:UploadLayerPart", "ecr:CompleteLayerUpload", "ecr:PutImage",
];

interface Host {
    readonly name: string;
    readonly platform: FleetPlatform;
    /** Its buildx builder (`hostBuilderName`). */
    readonly builderName: string;
    readonly serverName: string;
    readonly endpoint: pulumi.Output<string>;
    /** Every address the host is reached at; its certificate names them all. */
    readonly ipAddresses: pulumi.Output<string>[];
    readonly eni: aws.ec2.NetworkInterface;
}

/**
 * The buildx builder name of a fleet host: `<prefix>-<arch>` for the first
 * host of a platform (the name of the platform's builder before pools, so a
 * fleet that grows keeps its first host's builds there), `<prefix>-<arch>-<i>`
 * for the others.
 */
export function hostBuilderName(prefix: string, platform: FleetPlatform, index: number): string {
    return index === 0 ? `${prefix}-${SHORT_ARCH[platform]}` : `${prefix}-${SHORT_ARCH[platform]}-${index}`;
}

/**
 * Native BuildKit hosts on EC2 — Graviton for linux/arm64, x86 for
 * linux/amd64 — reached over TCP with mutual TLS. Each host is registered as
 * a buildx `remote` builder of its own, and a platform's hosts are a pool
 * (`builders`): an ImageFamily spreads the platform's builds over them in the
 * same `pulumi up`. Hosts stop themselves when idle.
 */
export class BuilderFleet extends pulumi.ComponentResource {
    /**
     * Per platform, the pool of the platform's hosts: one buildx builder per
     * host, each `{ name, ready }` (`ready` resolves once that builder is
     * registered). Pass to `ImageFamilyArgs.builders`.
     */
    public readonly builders: Readonly<Partial<Record<FleetPlatform, readonly PoolBuilder[]>>>;
    /** `tcp://host:port` of every host, per platform. */
    public readonly endpoints: Readonly<Partial<Record<FleetPlatform, pulumi.Output<string[]>>>>;
    /** EC2 instance ids per platform: what CI starts (`aws ec2 start-instances`) when hosts stopped for idleness. */
    public readonly instanceIds: Readonly<Partial<Record<FleetPlatform, pulumi.Output<string[]>>>>;
    /** The CA every host's and the client's certificate chains to. */
    public readonly caCertPem: pulumi.Output<string>;
    /** Client certificate accepted by every host. */
    public readonly clientCertPem: pulumi.Output<string>;
    /** Client key (secret). */
    public readonly clientKeyPem: pulumi.Output<string>;
    /** The hosts' security group: the BuildKit port from `allowedCidrs`, nothing else. */
    public readonly securityGroupId: pulumi.Output<string>;
    /** The hosts' IAM role. */
    public readonly roleArn: pulumi.Output<string>;
    /** The KMS key the hosts' attestors sign with (`attestor`); undefined without one. */
    public readonly attestorKeyArn: pulumi.Output<string> | undefined;
    /**
     * Per buildx builder of the fleet, the key its attestor signs with
     * (`{ keyRef: "awskms:///<ARN>" }`); pass to `SupplyChainArgs.attestors`
     * so the family's builds on the fleet leave the deploy's critical path.
     * Empty without an attestor.
     */
    public readonly attestors: Readonly<Record<string, { readonly keyRef: pulumi.Output<string> }>>;

    constructor(name: string, args: BuilderFleetArgs, opts?: pulumi.ComponentResourceOptions) {
        const problems = fleetProblems(args);
        if (problems.length > 0) {
            throw new ValidationError(`BuilderFleet ${JSON.stringify(name)}`, pulumi.getStack(), problems);
        }
        super("imagefleet:builders:BuilderFleet", name, {}, opts);

        const port = args.port ?? DEFAULTS.port;
        const volume = args.cacheVolumeGiB ?? DEFAULTS.cacheVolumeGiB;
        const validity = args.certValidityHours ?? DEFAULTS.certValidityHours;
        const prefix = args.builderNamePrefix ?? name;
        const tags = (extra: Record<string, string> = {}) => ({ ...args.tags, "imagefleet:fleet": name, ...extra });
        const platforms = FLEET_PLATFORMS.filter((p) => args.nodes[p] !== undefined);

        // Network: one security group; the BuildKit port from allowedCidrs only.
        const sg = new aws.ec2.SecurityGroup(`${name}-sg`, {
            vpcId: args.vpcId,
            description: `BuildKit hosts of ${name}: mTLS on port ${port} from allowed CIDRs only`,
            tags: tags({ Name: `${name}-buildkit` }),
        }, { parent: this });
        args.allowedCidrs.forEach((cidr, i) => new aws.vpc.SecurityGroupIngressRule(`${name}-ingress-${i}`, {
            securityGroupId: sg.id,
            ipProtocol: "tcp",
            fromPort: port,
            toPort: port,
            ...(isIpv6Cidr(cidr) ? { cidrIpv6: cidr } : { cidrIpv4: cidr }),
            description: `BuildKit (mTLS) from ${cidr}`,
            tags: tags(),
        }, { parent: this }));
        // Builds pull base images and packages from anywhere and push to ECR.
        for (const [suffix, cidr] of [["v4", { cidrIpv4: "0.0.0.0/0" }], ["v6", { cidrIpv6: "::/0" }]] as const) {
            new aws.vpc.SecurityGroupEgressRule(`${name}-egress-${suffix}`, {
                securityGroupId: sg.id, ipProtocol: "-1", ...cidr, description: "builds fetch sources and push images", tags: tags(),
            }, { parent: this });
        }

        // A network interface per host exists before its instance, so the
        // server certificate can name the address clients dial, and the address
        // survives stops and host replacement.
        const hosts: Host[] = [];
        for (const platform of platforms) {
            for (let i = 0; i < (args.nodes[platform]!.count ?? 1); i++) {
                const host = `${name}-${SHORT_ARCH[platform]}-${i}`;
                const builderName = hostBuilderName(prefix, platform, i);
                const eni = new aws.ec2.NetworkInterface(`${host}-eni`, {
                    subnetId: args.subnetIds[hosts.length % args.subnetIds.length],
                    securityGroups: [sg.id],
                    description: `BuildKit host ${host}`,
                    tags: tags({ Name: host }),
                }, { parent: this });
                const eip = args.publicEndpoint
                    ? new aws.ec2.Eip(`${host}-eip`, { domain: "vpc", networkInterface: eni.id, tags: tags({ Name: host }) }, { parent: this })
                    : undefined;
                const address = eip ? eip.publicIp : eni.privateIp;
                hosts.push({
                    name: host, platform, builderName, serverName: serverNameOf(host), eni,
                    endpoint: pulumi.interpolate`tcp://${address}:${port}`,
                    ipAddresses: eip ? [eni.privateIp, eip.publicIp] : [eni.privateIp],
                });
            }
        }

        const certs = fleetCertificates(name, validity, hosts, this);

        // Server keys go to SSM, never into user data (readable by anyone with ec2:DescribeInstanceAttribute).
        const keyParams = hosts.map((h, i) => new aws.ssm.Parameter(`${h.name}-key-param`, {
            name: `/imagefleet/${h.name}/tls-key`,
            type: "SecureString",
            value: certs.servers[i].keyPem,
            description: `TLS key of BuildKit host ${h.name}`,
            tags: tags(),
        }, { parent: this, additionalSecretOutputs: ["value"] }));

        const role = new aws.iam.Role(`${name}-role`, {
            assumeRolePolicy: JSON.stringify({
                Version: "2012-10-17",
                Statement: [{ Effect: "Allow", Principal: { Service: "ec2.amazonaws.com" }, Action: "sts:AssumeRole" }],
            }),
            description: `BuildKit hosts of ${name}`,
            tags: tags(),
        }, { parent: this });
        const ssmCore = new aws.iam.RolePolicyAttachment(`${name}-ssm-core`, {
            role: role.name,
            policyArn: aws.iam.ManagedPolicy.AmazonSSMManagedInstanceCore,
        }, { parent: this });
        const repositories = args.repositoryArns ?? [];
        const attestorKeyArn = args.attestor && (args.attestor.kmsKeyArn ?? this.attestorKey(name, role, tags()));
        const policy = new aws.iam.RolePolicy(`${name}-policy`, {
            role: role.name,
            policy: pulumi.jsonStringify({
                Version: "2012-10-17",
                Statement: [
                    { Sid: "HostTlsKeys", Effect: "Allow", Action: ["ssm:GetParameter"], Resource: keyParams.map((p) => p.arn) },
                    ...(repositories.length === 0 ? [] : [
                        { Sid: "FamilyRepositories", Effect: "Allow", Action: ECR_ACTIONS, Resource: [...repositories] },
                        // GetAuthorizationToken cannot be scoped to a repository; the token grants only what the statement above allows.
                        { Sid: "EcrLogin", Effect: "Allow", Action: ["ecr:GetAuthorizationToken"], Resource: "*" },
                    ]),
                    ...(attestorKeyArn === undefined ? [] : [
                        { Sid: "AttestorSigns", Effect: "Allow", Action: ["kms:Sign", "kms:GetPublicKey", "kms:DescribeKey"], Resource: attestorKeyArn },
                    ]),
                ],
            }),
        }, { parent: this });
        const profile = new aws.iam.InstanceProfile(`${name}-profile`, { role: role.name, tags: tags() }, { parent: this });

        const amis: Partial<Record<FleetPlatform, pulumi.Input<string>>> = {};
        for (const platform of platforms) {
            amis[platform] = args.amis?.[platform] ?? aws.ec2.getAmiOutput({
                mostRecent: true,
                owners: ["amazon"],
                filters: [
                    { name: "name", values: ["al2023-ami-2023.*-kernel-*"] },
                    { name: "architecture", values: [AMI_ARCHITECTURE[platform]] },
                ],
            }, { parent: this }).id;
        }

        const instances = hosts.map((h, i) => new aws.ec2.Instance(h.name, {
            ami: amis[h.platform],
            instanceType: args.nodes[h.platform]!.instanceType,
            iamInstanceProfile: profile.name,
            keyName: args.keyName,
            // The interface outlives the instance: a replacement host keeps the address its certificate names.
            primaryNetworkInterface: { networkInterfaceId: h.eni.id, deleteOnTermination: false },
            metadataOptions: { httpEndpoint: "enabled", httpTokens: "required", httpPutResponseHopLimit: 1 },
            rootBlockDevice: { encrypted: true, volumeType: "gp3", volumeSize: DEFAULTS.rootVolumeGiB, deleteOnTermination: true },
            ebsBlockDevices: [{ deviceName: CACHE_DEVICE, encrypted: true, volumeType: "gp3", volumeSize: volume, deleteOnTermination: true }],
            // The idle stop powers the host off; "stop" keeps its disks and address for the next start.
            instanceInitiatedShutdownBehavior: "stop",
            instanceMarketOptions: args.spot
                ? { marketType: "spot", spotOptions: { spotInstanceType: "persistent", instanceInterruptionBehavior: "stop" } }
                : undefined,
            userData: pulumi.all([certs.ca.certPem, certs.servers[i].certPem, keyParams[i].name, attestorKeyArn, pulumi.all([...repositories])])
                .apply(([caPem, certPem, keyParameter, keyArn, repositoryArns]) => renderUserData({
                    ...hostConfigOf(args, h.platform), caPem, certPem, keyParameter,
                    attestor: args.attestor && {
                        releaseUrl: args.attestor.releaseUrl,
                        keyRef: `awskms:///${keyArn}`,
                        builderId: attestorBuilderId(h.name, h.builderName),
                        ecrRegistries: [...new Set(repositoryArns.map(ecrRegistryOf).filter((r): r is string => r !== undefined))].sort(),
                    },
                })),
            userDataReplaceOnChange: true,
            tags: tags({ Name: h.name, "imagefleet:platform": h.platform }),
            volumeTags: tags({ Name: h.name }),
        }, {
            parent: this,
            dependsOn: [policy, ssmCore],
            ignoreChanges: ["ami"],
            // The new host needs the old one's network interface, so the old one goes first.
            deleteBeforeReplace: true,
        }));

        const builders: Partial<Record<FleetPlatform, PoolBuilder[]>> = {};
        const endpoints: Partial<Record<FleetPlatform, pulumi.Output<string[]>>> = {};
        const instanceIds: Partial<Record<FleetPlatform, pulumi.Output<string[]>>> = {};
        for (const platform of platforms) {
            const mine = hosts.map((h, i) => ({ h, instance: instances[i] })).filter((x) => x.h.platform === platform);
            endpoints[platform] = pulumi.all(mine.map((x) => x.h.endpoint));
            instanceIds[platform] = pulumi.all(mine.map((x) => x.instance.id));
            // One builder per host: buildx sends a builder's builds to its
            // first node (docker/buildx#429), so hosts appended as nodes would
            // only stand by. As builders of their own, the family's pool
            // hashing gives each host its share.
            builders[platform] = mine.map(({ h, instance }, i) => {
                const builderName = h.builderName;
                if (!(args.register ?? true)) {
                    return { name: builderName, ready: builderName };
                }
                // The first host keeps the registration's pre-pool name (and so its state).
                const registration = new BuildxRegistration(`${i === 0 ? `${name}-${SHORT_ARCH[platform]}` : h.name}-buildx`, {
                    builderName,
                    platform,
                    nodes: [{ endpoint: h.endpoint, serverName: h.serverName }],
                    caPem: certs.ca.certPem,
                    certPem: certs.client.certPem,
                    keyPem: certs.client.keyPem,
                    waitSeconds: REGISTRATION_WAIT_SECONDS,
                }, { parent: this, dependsOn: [instance] });
                return { name: builderName, ready: registration.builderName };
            });
        }

        this.builders = builders;
        this.endpoints = endpoints;
        this.instanceIds = instanceIds;
        this.caCertPem = certs.ca.certPem;
        this.clientCertPem = certs.client.certPem;
        this.clientKeyPem = pulumi.secret(certs.client.keyPem);
        this.securityGroupId = sg.id;
        this.roleArn = role.arn;
        this.attestorKeyArn = attestorKeyArn === undefined ? undefined : pulumi.output(attestorKeyArn);
        const keyRef = this.attestorKeyArn?.apply((arn) => `awskms:///${arn}`);
        this.attestors = keyRef === undefined ? {} : Object.fromEntries(hosts.map((h) => [h.builderName, { keyRef }]));
        this.registerOutputs({
            builders, endpoints, instanceIds,
            caCertPem: this.caCertPem, clientCertPem: this.clientCertPem, clientKeyPem: this.clientKeyPem,
            securityGroupId: this.securityGroupId, roleArn: this.roleArn,
            attestorKeyArn: this.attestorKeyArn, attestors: this.attestors,
        });
    }

    /**
     * The hosts' signing key. Its policy lets the account administer it (so it
     * is never unmanageable) and denies kms:Sign to every principal but the
     * hosts' role: a deployer, a CI role or an admin cannot sign as a host
     * without first rewriting the policy, which CloudTrail records. Kept when
     * the fleet is destroyed: what it signed stays verifiable (its public key).
     */
    private attestorKey(name: string, role: aws.iam.Role, tags: Record<string, string>): pulumi.Output<string> {
        const policy = role.arn.apply((roleArn) => JSON.stringify({
            Version: "2012-10-17",
            Statement: [
                { Sid: "AccountAdministers", Effect: "Allow", Principal: { AWS: roleArn.replace(/:role\/.*$/, ":root") }, Action: "kms:*", Resource: "*" },
                { Sid: "HostsSign", Effect: "Allow", Principal: { AWS: roleArn }, Action: ["kms:Sign", "kms:GetPublicKey", "kms:DescribeKey"], Resource: "*" },
                {
                    Sid: "OnlyTheHostsSign", Effect: "Deny", Principal: "*", Action: "kms:Sign", Resource: "*",
                    Condition: { ArnNotEquals: { "aws:PrincipalArn": roleArn } },
                },
            ],
        }));
        const key = new aws.kms.Key(`${name}-attestor-key`, {
            description: `imagefleet attestor of ${name}: signs what its BuildKit hosts build`,
            customerMasterKeySpec: "ECC_NIST_P256",
            keyUsage: "SIGN_VERIFY",
            deletionWindowInDays: 30,
            policy,
            tags,
        }, { parent: this, retainOnDelete: true });
        new aws.kms.Alias(`${name}-attestor-alias`, { name: `alias/imagefleet/${name}/attestor`, targetKeyId: key.keyId }, { parent: this });
        return key.arn;
    }
}
