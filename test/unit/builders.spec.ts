import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { BuilderFleet, BuilderFleetArgs, instanceArchitecture } from "../../components/builders";
import { hostBuildkitdToml, mountUnitName, userDataFile } from "../../components/builders/userData";
import { IDLE_STOP_SCRIPT } from "../../components/builders/idleStop";
import { DEFAULTS } from "../../components/builders/types";
import { ImageFamily } from "../../components/images";
import { familyArgs, FIXTURE, fixtureImages } from "./helpers";
import { ValidationError } from "../../components/errors";
import { DEFAULT_CALLS } from "../../scripts/harness/calls";
import { evaluate, isSecret, Recorded, unwrapSecrets } from "../../scripts/harness/mocks";

const REPOS = [
    "arn:aws:ecr:eu-west-1:123456789012:repository/team/runtime",
    "arn:aws:ecr:eu-west-1:123456789012:repository/team/runtime-cache",
];

function fleetArgs(overrides: Partial<BuilderFleetArgs> = {}): BuilderFleetArgs {
    return {
        vpcId: "vpc-0b7e3c1d9a2f45e61",
        subnetIds: ["subnet-04c1e9a7b3d2f8e15", "subnet-0a9d3f6b1c7e42d08"],
        allowedCidrs: ["10.40.0.0/16", "fd00:40::/56"],
        nodes: { "linux/arm64": { instanceType: "c7g.2xlarge", count: 2 }, "linux/amd64": { instanceType: "c7i.2xlarge" } },
        repositoryArns: REPOS,
        ...overrides,
    };
}

interface DeclaredFleet {
    readonly resources: Recorded[];
    readonly fleet: BuilderFleet;
    /** `additionalSecretOutputs` of each resource, by name, as sent to the engine. */
    readonly secretOutputs: Map<string, string[]>;
    /** Inputs of every aws:ec2/getAmi call. */
    readonly amiLookups: Record<string, any>[];
    /** Resources declared with `deleteBeforeReplace`. */
    readonly deleteFirst: Set<string>;
}

/** Declares a fleet under mocks (plus whatever `also` declares with it). */
async function declareFleet(args: BuilderFleetArgs, also?: (fleet: BuilderFleet) => void): Promise<DeclaredFleet> {
    let fleet: BuilderFleet | undefined;
    const secretOutputs = new Map<string, string[]>();
    const amiLookups: Record<string, any>[] = [];
    const deleteFirst = new Set<string>();
    const { resources } = await evaluate({
        stack: "test",
        calls: {
            "aws:ec2/getAmi:getAmi": (inputs) => {
                amiLookups.push(inputs);
                return DEFAULT_CALLS["aws:ec2/getAmi:getAmi"](inputs);
            },
        },
        program: () => {
            // The mocks drop additionalSecretOutputs; read them off the request.
            const monitor = pulumi.runtime.getMonitor() as any;
            const register = monitor.registerResource.bind(monitor);
            monitor.registerResource = (req: any, cb: any) => {
                secretOutputs.set(req.getName(), req.getAdditionalsecretoutputsList());
                if (req.getDeletebeforereplace()) {
                    deleteFirst.add(req.getName());
                }
                return register(req, cb);
            };
            fleet = new BuilderFleet("fleet", args);
            also?.(fleet);
        },
    });
    return { resources, fleet: fleet!, secretOutputs, amiLookups, deleteFirst };
}

/** The ValidationError a fleet is rejected with, plus what it declared. */
async function fleetRejection(args: BuilderFleetArgs): Promise<ValidationError & { resources: Recorded[] }> {
    try {
        await declareFleet(args);
    } catch (err) {
        if (!(err instanceof ValidationError)) {
            throw err;
        }
        return err as ValidationError & { resources: Recorded[] };
    }
    throw new Error("expected the fleet to be rejected, but it was declared");
}

const unwrap = <T>(o: pulumi.Output<T>): Promise<T> => new Promise((resolve) => o.apply((v) => resolve(v)));
const ofType = (rs: Recorded[], type: string) => rs.filter((r) => r.type === type);
const inputs = (r: Recorded) => unwrapSecrets(r.inputs);

const T = {
    instance: "aws:ec2/instance:Instance",
    sg: "aws:ec2/securityGroup:SecurityGroup",
    ingress: "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
    egress: "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule",
    legacyRule: "aws:ec2/securityGroupRule:SecurityGroupRule",
    rolePolicy: "aws:iam/rolePolicy:RolePolicy",
    attachment: "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
    parameter: "aws:ssm/parameter:Parameter",
    privateKey: "tls:index/privateKey:PrivateKey",
    csr: "tls:index/certRequest:CertRequest",
    signed: "tls:index/locallySignedCert:LocallySignedCert",
    ca: "tls:index/selfSignedCert:SelfSignedCert",
    registration: "pulumi-nodejs:dynamic/builders:BuildxRegistration",
    kmsKey: "aws:kms/key:Key",
    kmsAlias: "aws:kms/alias:Alias",
} as const;

const ATTESTOR_URL = "https://mirror.example.com/imagefleet-attestor-linux-{arch}.tar.gz";
const ATTESTOR_UNIT = "/etc/systemd/system/imagefleet-attestor.service";

const PLATFORM_OF = (r: Recorded) => inputs(r).tags["imagefleet:platform"] as "linux/amd64" | "linux/arm64";

describe("BuilderFleet", () => {
    it("gives every host an instance type and an AMI of its platform's architecture", async () => {
        const { resources, amiLookups } = await declareFleet(fleetArgs());
        const instances = ofType(resources, T.instance);
        assert.deepEqual(instances.map((r) => r.name).sort(), ["fleet-amd64-0", "fleet-arm64-0", "fleet-arm64-1"]);
        for (const r of instances) {
            const i = inputs(r);
            const platform = PLATFORM_OF(r);
            assert.equal(instanceArchitecture(i.instanceType), platform, r.name);
            assert.equal(i.ami, platform === "linux/arm64" ? "ami-mock-arm64" : "ami-mock-x86_64", r.name);
            assert.equal(r.parent, "fleet");
        }
        // One lookup per architecture, Amazon's own Amazon Linux 2023 images only.
        assert.deepEqual(amiLookups.map((l) => l.filters.find((f: any) => f.name === "architecture").values).sort(), [["arm64"], ["x86_64"]]);
        assert.ok(amiLookups.every((l) => l.owners.join() === "amazon" && l.mostRecent === true));
    });

    it("rejects an instance type of the other architecture, naming the key, the type and the platform", async () => {
        const err = await fleetRejection(fleetArgs({
            nodes: { "linux/arm64": { instanceType: "c7i.2xlarge" }, "linux/amd64": { instanceType: "m7g.large" } },
        }));
        assert.match(err.message, /BuilderFleet "fleet" \(stack "test"\) is invalid/);
        assert.match(err.message, /nodes\["linux\/arm64"\]\.instanceType: c7i\.2xlarge is a x86_64 type but the platform is linux\/arm64; use a Graviton family/);
        assert.match(err.message, /nodes\["linux\/amd64"\]\.instanceType: m7g\.large is a arm64 type but the platform is linux\/amd64; use an x86 family/);
        assert.deepEqual(err.resources, [], "nothing may be declared before validation passes");
    });

    it("lets in only the BuildKit port, only from allowedCidrs (IPv4 and IPv6)", async () => {
        const allowedCidrs = ["10.40.0.0/16", "192.168.8.0/22", "fd00:40::/56"];
        const { resources } = await declareFleet(fleetArgs({ allowedCidrs, port: 8443 }));
        const sg = ofType(resources, T.sg);
        assert.equal(sg.length, 1);
        assert.equal(inputs(sg[0]).ingress, undefined, "no inline ingress");
        assert.equal(ofType(resources, T.legacyRule).length, 0);
        const rules = ofType(resources, T.ingress).map(inputs);
        assert.deepEqual(rules.map((r) => r.cidrIpv4 ?? r.cidrIpv6).sort(), [...allowedCidrs].sort());
        for (const r of rules) {
            assert.deepEqual([r.ipProtocol, r.fromPort, r.toPort], ["tcp", 8443, 8443]);
            assert.equal(r.securityGroupId, "fleet-sg-id");
            assert.equal(r.referencedSecurityGroupId ?? r.prefixListId, undefined);
        }
        assert.equal(inputs(ofType(resources, T.ingress).find((r) => inputs(r).cidrIpv6)!).cidrIpv4, undefined);
        // Every host's only network interface is in that group.
        for (const eni of ofType(resources, "aws:ec2/networkInterface:NetworkInterface")) {
            assert.deepEqual(inputs(eni).securityGroups, ["fleet-sg-id"]);
        }
    });

    it("requires allowedCidrs and refuses the whole internet unless allowPublicIngress is set", async () => {
        const missing = await fleetRejection(fleetArgs({ allowedCidrs: [] }));
        assert.match(missing.message, /allowedCidrs: is required/);
        for (const cidr of ["0.0.0.0/0", "::/0"]) {
            const err = await fleetRejection(fleetArgs({ allowedCidrs: ["10.0.0.0/8", cidr] }));
            assert.ok(err.message.includes(`allowedCidrs[1]: "${cidr}" opens BuildKit to the whole internet; list narrower CIDRs or set allowPublicIngress: true`), err.message);
        }
        const bad = await fleetRejection(fleetArgs({ allowedCidrs: ["10.0.0.0/33", "office"] }));
        assert.match(bad.message, /allowedCidrs\[0\]: "10\.0\.0\.0\/33" is not a CIDR/);
        assert.match(bad.message, /allowedCidrs\[1\]: "office" is not a CIDR/);
        const { resources } = await declareFleet(fleetArgs({ allowedCidrs: ["0.0.0.0/0"], allowPublicIngress: true }));
        assert.deepEqual(ofType(resources, T.ingress).map((r) => inputs(r).cidrIpv4), ["0.0.0.0/0"]);
    });

    it("requires IMDSv2, encrypts every volume, sets no SSH key by default and keeps a host's address across replacement", async () => {
        const { resources, deleteFirst } = await declareFleet(fleetArgs({ cacheVolumeGiB: 250 }));
        for (const r of ofType(resources, T.instance)) {
            const i = inputs(r);
            assert.equal(i.metadataOptions.httpTokens, "required", r.name);
            assert.equal(i.metadataOptions.httpPutResponseHopLimit, 1, r.name);
            assert.equal(i.rootBlockDevice.encrypted, true, r.name);
            assert.equal(i.ebsBlockDevices.length, 1);
            assert.ok(i.ebsBlockDevices.every((d: any) => d.encrypted === true && d.volumeSize === 250), r.name);
            assert.equal(i.keyName, undefined, r.name);
            assert.equal(i.instanceInitiatedShutdownBehavior, "stop");
            assert.deepEqual(i.primaryNetworkInterface, { networkInterfaceId: `${r.name}-eni-id`, deleteOnTermination: false });
            assert.ok(deleteFirst.has(r.name), `${r.name} must be replaced delete-first to free its network interface`);
        }
        const withKey = await declareFleet(fleetArgs({ keyName: "ops" }));
        assert.ok(ofType(withKey.resources, T.instance).every((r) => inputs(r).keyName === "ops"));
    });

    it("lets the hosts' role reach only the family's repositories, their own TLS keys and SSM core", async () => {
        const { resources } = await declareFleet(fleetArgs());
        const attachments = ofType(resources, T.attachment).map(inputs);
        assert.deepEqual(attachments.map((a) => a.policyArn), ["arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"]);
        const policies = ofType(resources, T.rolePolicy);
        assert.equal(policies.length, 1);
        const statements: any[] = JSON.parse(inputs(policies[0]).policy).Statement;
        const bySid = Object.fromEntries(statements.map((s) => [s.Sid, s]));
        assert.deepEqual(Object.keys(bySid).sort(), ["EcrLogin", "FamilyRepositories", "HostTlsKeys"]);
        assert.deepEqual(bySid.FamilyRepositories.Resource, REPOS);
        assert.ok(bySid.FamilyRepositories.Action.every((a: string) => a.startsWith("ecr:") && !a.includes("*")));
        // The one "*": GetAuthorizationToken has no repository to scope to.
        assert.deepEqual([bySid.EcrLogin.Action, bySid.EcrLogin.Resource], [["ecr:GetAuthorizationToken"], "*"]);
        const params = ofType(resources, T.parameter);
        assert.deepEqual(bySid.HostTlsKeys.Resource, params.map((p) => p.state.arn));
        assert.deepEqual(bySid.HostTlsKeys.Action, ["ssm:GetParameter"]);

        const none = await declareFleet(fleetArgs({ repositoryArns: undefined }));
        const only: any[] = JSON.parse(inputs(ofType(none.resources, T.rolePolicy)[0]).policy).Statement;
        assert.deepEqual(only.map((s) => s.Sid), ["HostTlsKeys"], "no repositories, no ECR access");
    });

    it("keeps the client key and every server key secret", async () => {
        const { resources, fleet, secretOutputs } = await declareFleet(fleetArgs());
        assert.equal(await pulumi.isSecret(fleet.clientKeyPem), true);
        assert.equal(await pulumi.isSecret(fleet.clientCertPem), false);
        const keys = ofType(resources, T.privateKey);
        assert.equal(keys.length, 1 + 1 + 3, "CA, client, one per host");
        for (const k of keys) {
            assert.ok(secretOutputs.get(k.name)!.includes("privateKeyPem"), k.name);
        }
        for (const p of ofType(resources, T.parameter)) {
            assert.equal(p.inputs.type, "SecureString");
            assert.ok(isSecret(p.inputs.value), `${p.name} value must be secret`);
            assert.ok(secretOutputs.get(p.name)!.includes("value"));
        }
        for (const r of ofType(resources, T.registration)) {
            assert.ok(isSecret(r.inputs.keyPem), `${r.name} keyPem must be secret`);
            assert.ok(secretOutputs.get(r.name)!.includes("keyPem"));
        }
        // User data is readable through the EC2 API: it points at the key, it never holds one.
        for (const r of ofType(resources, T.instance)) {
            const ud: string = inputs(r).userData;
            assert.doesNotMatch(ud, /PRIVATE KEY/);
            assert.ok(ud.includes(`--name "/imagefleet/${r.name}/tls-key" --with-decryption`), r.name);
        }
    });

    it("issues per host a server certificate for the name the registration verifies and the host's address", async () => {
        const { resources } = await declareFleet(fleetArgs({ publicEndpoint: true }));
        const regs = ofType(resources, T.registration).map(inputs);
        const verified = regs.flatMap((r) => r.nodes.map((n: any) => n.serverName)).sort();
        const csrs = ofType(resources, T.csr).filter((c) => c.name !== "fleet-client-csr");
        assert.deepEqual(csrs.map((c) => inputs(c).dnsNames[0]).sort(), verified);
        for (const c of csrs) {
            assert.equal(inputs(c).ipAddresses.length, 2, "private address and Elastic IP");
        }
        assert.equal(ofType(resources, "aws:ec2/eip:Eip").length, 3);
        const uses = Object.fromEntries(ofType(resources, T.signed).map((s) => [s.name, inputs(s).allowedUses]));
        assert.deepEqual(uses["fleet-client"], ["digital_signature", "client_auth"]);
        assert.deepEqual(uses["fleet-arm64-1-tls"], ["digital_signature", "server_auth"]);
        assert.equal(inputs(ofType(resources, T.ca)[0]).isCaCertificate, true);
    });

    it("registers one buildx remote builder per host, each its own host's only node, and an ImageFamily given fleet.builders spreads each platform over its pool", async () => {
        const wide = [...fixtureImages.slice(0, 2), ...Array.from({ length: 8 }, (_, i) => ({
            name: `svc-${i}`, kind: "runtime" as const, context: FIXTURE, dockerfile: "runtime.Dockerfile", from: ["artifact"],
        }))];
        const { resources, fleet } = await declareFleet(fleetArgs({ builderNamePrefix: "ci" }), (f) => {
            new ImageFamily("fam", familyArgs({ images: wide, builders: f.builders }));
        });
        const regs = ofType(resources, T.registration);
        // The first host of a platform keeps the pre-pool registration and builder name.
        assert.deepEqual(regs.map((r) => [r.name, inputs(r).builderName, inputs(r).platform]).sort(), [
            ["fleet-amd64-buildx", "ci-amd64", "linux/amd64"],
            ["fleet-arm64-1-buildx", "ci-arm64-1", "linux/arm64"],
            ["fleet-arm64-buildx", "ci-arm64", "linux/arm64"],
        ]);
        const endpoints = await new Promise<string[]>((resolve) => fleet.endpoints["linux/arm64"]!.apply(resolve));
        const arm = regs.filter((r) => inputs(r).platform === "linux/arm64").sort((a, b) => a.name.localeCompare(b.name));
        assert.deepEqual(arm.map((r) => inputs(r).nodes.map((n: any) => n.endpoint)), [[endpoints[1]], [endpoints[0]]], "one node each: its own host");
        assert.deepEqual(arm.map((r) => r.options.dependsOn), [["fleet-arm64-1"], ["fleet-arm64-0"]], "each waits for its own instance");
        assert.deepEqual(fleet.builders["linux/arm64"]!.map((b) => b.name), ["ci-arm64", "ci-arm64-1"]);
        const images = ofType(resources, "docker-build:index:Image").map(inputs);
        assert.equal(images.length, 10 * 2);
        const on = (platform: string) => images.filter((i) => i.platforms[0] === platform).map((i) => i.builder.name as string);
        assert.deepEqual([...new Set(on("linux/arm64"))].sort(), ["ci-arm64", "ci-arm64-1"], "both arm64 hosts build");
        assert.deepEqual([...new Set(on("linux/amd64"))], ["ci-amd64"]);
        // Each host's builds wait for its own check, which waits for its registration.
        const checks = ofType(resources, "pulumi-nodejs:dynamic/builders:BuilderCheck").map((r) => [r.name, inputs(r).builder]).sort();
        assert.deepEqual(checks, [["fam-builder-amd64", "ci-amd64"], ["fam-builder-arm64-ci-arm64", "ci-arm64"], ["fam-builder-arm64-ci-arm64-1", "ci-arm64-1"]]);
    });

    it("renders user data that installs the BuildKit version and runs buildkitd with TLS, GC and the idle stop", async () => {
        const { resources } = await declareFleet(fleetArgs({
            nodes: { "linux/arm64": { instanceType: "t4g.xlarge" } },
            cacheVolumeGiB: 200, idleStopMinutes: 15, buildkitVersion: "v0.33.1", port: 9443,
        }));
        const ud: string = inputs(ofType(resources, T.instance)[0]).userData;
        assert.match(ud, /^#cloud-config\n/);
        const toml = userDataFile(ud, "/etc/buildkit/buildkitd.toml")!;
        assert.equal(toml, hostBuildkitdToml({
            platform: "linux/arm64", buildkitVersion: "v0.33.1", port: 9443, idleStopMinutes: 15,
            buildkitReleaseUrl: DEFAULTS.buildkitReleaseUrl,
            gc: { maxUsedGiB: 160, minFreeGiB: 20, keepDuration: "168h" },
        }));
        assert.ok(toml.includes('address = ["tcp://0.0.0.0:9443", "unix:///run/buildkit/attestor.sock"]'));
        // RUN steps are fenced off from the host at every start (iptables rules do not survive a reboot).
        const unit = userDataFile(ud, "/etc/systemd/system/buildkitd.service")!;
        assert.ok(unit.includes("ExecStartPre=/usr/local/bin/imagefleet-isolate-builds 10.10.0.0/16"), unit);
        const isolate = userDataFile(ud, "/usr/local/bin/imagefleet-isolate-builds")!;
        assert.equal(isolate, fs.readFileSync(path.join(__dirname, "..", "..", "host", "isolate-builds.sh"), "utf8"));
        assert.match(isolate, /169\.254\.169\.254\/32/);
        assert.match(userDataFile(ud, "/usr/local/bin/imagefleet-setup")!, /provenance\.d\/buildkit\.json/);
        assert.ok(userDataFile(ud, "/usr/local/bin/imagefleet-setup")!
            .includes("https://github.com/moby/buildkit/releases/download/v0.33.1/buildkit-v0.33.1.linux-arm64.tar.gz"));
        assert.ok(userDataFile(ud, "/etc/systemd/system/imagefleet-idle-stop.service")!.includes("Environment=IDLE_MINUTES=15"));
        assert.ok(userDataFile(ud, "/etc/systemd/system/buildkitd.service")!.includes("ExecStartPre=/usr/local/bin/imagefleet-fetch-key"));
    });

    it("installs BuildKit from buildkitReleaseUrl, {version} and {arch} filled in per host, and checks the version it installed", async () => {
        const { resources } = await declareFleet(fleetArgs({
            buildkitVersion: "v0.33.1",
            buildkitReleaseUrl: "https://artifacts.example.internal/buildkit/{version}/buildkit-{version}.linux-{arch}.tar.gz",
        }));
        const setups = Object.fromEntries(ofType(resources, T.instance).map((r) => [r.name, userDataFile(inputs(r).userData, "/usr/local/bin/imagefleet-setup")!]));
        assert.deepEqual(Object.keys(setups).sort(), ["fleet-amd64-0", "fleet-arm64-0", "fleet-arm64-1"]);
        for (const [host, setup] of Object.entries(setups)) {
            const arch = host.split("-")[1];
            assert.ok(setup.includes(`curl -fsSL --retry 5 'https://artifacts.example.internal/buildkit/v0.33.1/buildkit-v0.33.1.linux-${arch}.tar.gz' | tar -xz -C /usr/local`), setup);
            assert.ok(!setup.includes("github.com"), setup);
            assert.ok(setup.includes('[[ " $version " == *" v0.33.1 "* ]]'), "a mirror's other release fails the first boot");
        }
    });

    it("with an attestor, every host runs it under systemd beside buildkitd, signing as its own builder with a KMS key only the hosts' role may use", async () => {
        const { resources, fleet } = await declareFleet(fleetArgs({ attestor: { releaseUrl: ATTESTOR_URL } }));
        const keys = ofType(resources, T.kmsKey);
        assert.equal(keys.length, 1, "one key for the fleet");
        const key = keys[0];
        assert.deepEqual([inputs(key).keyUsage, inputs(key).customerMasterKeySpec], ["SIGN_VERIFY", "ECC_NIST_P256"]);
        assert.equal(key.options.retainOnDelete, true, "what the key signed stays verifiable after a destroy");
        const role = resources.find((r) => r.type === "aws:iam/role:Role")!;
        const policy = JSON.parse(inputs(key).policy);
        const bySid = Object.fromEntries(policy.Statement.map((st: any) => [st.Sid, st]));
        assert.deepEqual(bySid.OnlyTheHostsSign, {
            Sid: "OnlyTheHostsSign", Effect: "Deny", Principal: "*", Action: "kms:Sign", Resource: "*",
            Condition: { ArnNotEquals: { "aws:PrincipalArn": role.state.arn } },
        });
        assert.deepEqual(bySid.HostsSign.Principal, { AWS: role.state.arn });
        assert.deepEqual(bySid.AccountAdministers.Principal, { AWS: "arn:aws:iam::123456789012:root" });
        assert.deepEqual(ofType(resources, T.kmsAlias).map((a) => inputs(a).name), ["alias/imagefleet/fleet/attestor"]);
        const statements: any[] = JSON.parse(inputs(ofType(resources, T.rolePolicy)[0]).policy).Statement;
        const signs = statements.find((st) => st.Sid === "AttestorSigns");
        assert.deepEqual(signs, { Sid: "AttestorSigns", Effect: "Allow", Action: ["kms:Sign", "kms:GetPublicKey", "kms:DescribeKey"], Resource: key.state.arn });

        const builderOf: Record<string, string> = { "fleet-amd64-0": "fleet-amd64", "fleet-arm64-0": "fleet-arm64", "fleet-arm64-1": "fleet-arm64-1" };
        for (const instance of ofType(resources, T.instance)) {
            const ud: string = inputs(instance).userData;
            const arch = instance.name.split("-")[1];
            const unit = userDataFile(ud, ATTESTOR_UNIT)!;
            assert.ok(unit, `${instance.name} has no attestor unit`);
            assert.match(unit, /^Requires=buildkitd\.service$/m);
            assert.match(unit, /^Nice=10$/m, "builds before signatures: the attestor is off the critical path");
            assert.match(unit, /^Environment=AWS_REGION=eu-west-1$/m, "the key's region, for the SDK in cosign");
            assert.ok(unit.includes(`--key awskms:///${key.state.arn} --builder-id https://imagefleet.dev/attestor/v1/${instance.name}/${builderOf[instance.name]} `), unit);
            assert.ok(unit.includes("--addr unix:///run/buildkit/attestor.sock"), unit);
            assert.deepEqual(JSON.parse(userDataFile(ud, "/etc/imagefleet-attestor/config.json")!), {
                credHelpers: { "123456789012.dkr.ecr.eu-west-1.amazonaws.com": "ecr-login" },
            });
            const setup = userDataFile(ud, "/usr/local/bin/imagefleet-setup")!;
            assert.ok(setup.includes(`curl -fsSL --retry 5 'https://mirror.example.com/imagefleet-attestor-linux-${arch}.tar.gz' | tar -xz -C /usr/local/lib/imagefleet-attestor`), setup);
            assert.ok(setup.includes("for tool in imagefleet-attestor cosign syft docker-credential-ecr-login; do"), setup);
            assert.ok(setup.includes("systemctl enable --now buildkitd.service imagefleet-attestor.service imagefleet-idle-stop.timer"), setup);
            assert.match(userDataFile(ud, "/usr/local/bin/imagefleet-idle-stop")!, /active: the attestor is signing/);
            assert.doesNotMatch(ud, /PRIVATE KEY/);
        }
        const refs = Object.fromEntries(await Promise.all(Object.entries(fleet.attestors).map(async ([b, k]) => [b, await unwrap(k.keyRef)])));
        assert.deepEqual(refs, Object.fromEntries(Object.values(builderOf).map((b) => [b, `awskms:///${key.state.arn}`])));
    });

    it("an attestor with the user's own key makes no key and lets the role sign with that one; without an attestor nothing of it is rendered", async () => {
        const arn = "arn:aws:kms:us-east-2:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
        const own = await declareFleet(fleetArgs({ repositoryArns: undefined, attestor: { releaseUrl: ATTESTOR_URL, kmsKeyArn: arn } }));
        assert.equal(ofType(own.resources, T.kmsKey).length, 0);
        const statements: any[] = JSON.parse(inputs(ofType(own.resources, T.rolePolicy)[0]).policy).Statement;
        assert.deepEqual(statements.find((st) => st.Sid === "AttestorSigns").Resource, arn);
        const ud: string = inputs(ofType(own.resources, T.instance)[0]).userData;
        assert.match(userDataFile(ud, ATTESTOR_UNIT)!, /^Environment=AWS_REGION=us-east-2$/m);
        // No ECR repositories: no login helper to ship or run.
        assert.deepEqual(JSON.parse(userDataFile(ud, "/etc/imagefleet-attestor/config.json")!), { credHelpers: {} });
        assert.ok(userDataFile(ud, "/usr/local/bin/imagefleet-setup")!.includes("for tool in imagefleet-attestor cosign syft; do"));

        // A fleet without one keeps the user data it had: no host is replaced by the upgrade.
        const none = await declareFleet(fleetArgs());
        assert.equal(ofType(none.resources, T.kmsKey).length, 0);
        assert.deepEqual(none.fleet.attestors, {});
        for (const instance of ofType(none.resources, T.instance)) {
            const noUd: string = inputs(instance).userData;
            assert.equal(userDataFile(noUd, ATTESTOR_UNIT), undefined);
            assert.equal(userDataFile(noUd, "/usr/local/bin/imagefleet-idle-stop"), IDLE_STOP_SCRIPT);
            assert.doesNotMatch(noUd, /imagefleet-attestor|kms/);
        }
    });

    it("refuses an attestor without a usable release URL or with a KMS key that is no key ARN", async () => {
        const cases: [BuilderFleetArgs["attestor"], RegExp][] = [
            [{ releaseUrl: "https://mirror.example.com/imagefleet-attestor.tar.gz" }, /^attestor\.releaseUrl: has no \{arch\}, so the linux\/arm64 and linux\/amd64 hosts would install the same tarball/],
            [{ releaseUrl: "https://mirror.example.com/{version}/attestor-{arch}.tar.gz" }, /^attestor\.releaseUrl: .*has \{version\}; only \{arch\} is replaced/],
            [{ releaseUrl: "s3://bucket/attestor-{arch}.tar.gz" }, /^attestor\.releaseUrl: .*is not an http\(s\) URL/],
            [{ releaseUrl: ATTESTOR_URL, kmsKeyArn: "arn:aws:kms:eu-west-1:123456789012:alias/attestor" }, /^attestor\.kmsKeyArn: .*is not a KMS key ARN/],
            [{ kmsKeyArn: "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab" } as never, /^attestor\.releaseUrl: /],
        ];
        for (const [attestor, message] of cases) {
            const err = await fleetRejection(fleetArgs({ attestor }));
            assert.equal(err.problems.length, 1, err.problems.join("\n"));
            assert.match(err.problems[0], message);
            assert.equal(err.resources.length, 0, "nothing is declared");
        }
    });

    it("mounts the cache volume with a unit buildkitd requires, so buildkitd never runs on the root volume", async () => {
        const { resources } = await declareFleet(fleetArgs({ nodes: { "linux/amd64": { instanceType: "c7i.large" } } }));
        const ud: string = inputs(ofType(resources, T.instance)[0]).userData;
        const mount = userDataFile(ud, `/etc/systemd/system/${mountUnitName("/var/lib/buildkit")}`)!;
        assert.match(mount, /^What=\/dev\/sdf$/m);
        assert.match(mount, /^Where=\/var\/lib\/buildkit$/m);
        assert.match(mount, /^Type=xfs$/m);
        const unit = userDataFile(ud, "/etc/systemd/system/buildkitd.service")!;
        assert.match(unit, /^RequiresMountsFor=\/var\/lib\/buildkit$/m);
        assert.match(unit, /^AssertPathIsMountPoint=\/var\/lib\/buildkit$/m);
        assert.match(unit, /^Type=notify$/m);
        const setup = userDataFile(ud, "/usr/local/bin/imagefleet-setup")!;
        assert.doesNotMatch(setup, /fstab/);
        assert.equal(mountUnitName("/var/lib/buildkit"), "var-lib-buildkit.mount");
        assert.throws(() => mountUnitName("/var/lib/build kit"), /systemd-escape/);
    });

    it("refuses a buildkitReleaseUrl that is no http(s) URL, holds shell characters or unknown placeholders, or lacks {arch} for two platforms", async () => {
        const cases: [string, RegExp][] = [
            ["ftp://mirror.example.com/buildkit-{version}.linux-{arch}.tar.gz", /is not an http\(s\) URL/],
            ["https://mirror.example.com/$(reboot)/buildkit-{arch}.tar.gz", /characters a URL cannot hold unescaped/],
            ["https://mirror.example.com/it's/buildkit-{arch}.tar.gz", /characters a URL cannot hold unescaped/],
            ["https://mirror.example.com/{release}/buildkit-{arch}.tar.gz", /has \{release\}; only \{version\} and \{arch\} are replaced/],
            ["not a url {arch}", /characters a URL cannot hold unescaped/],
            ["https//mirror/{arch}", /is not a URL/],
            ["https://mirror.example.com/buildkit-{version}.tar.gz", /has no \{arch\}, so the linux\/arm64 and linux\/amd64 hosts would install the same tarball/],
        ];
        for (const [url, message] of cases) {
            const err = await fleetRejection(fleetArgs({ buildkitReleaseUrl: url }));
            assert.equal(err.problems.length, 1, err.problems.join("\n"));
            assert.match(err.problems[0], /^buildkitReleaseUrl: /);
            assert.match(err.problems[0], message);
            assert.match(err.message, /BuilderFleet "fleet"/);
            assert.match(err.message, /stack "test"/);
        }
        // One platform, one tarball: a fixed URL is fine.
        await declareFleet(fleetArgs({ nodes: { "linux/arm64": { instanceType: "c7g.large" } }, buildkitReleaseUrl: "http://10.0.0.5/buildkit.tar.gz" }));
    });

    it("runs persistent spot hosts that stop when interrupted, and on-demand hosts by default", async () => {
        const spot = await declareFleet(fleetArgs({ spot: true }));
        for (const r of ofType(spot.resources, T.instance)) {
            assert.deepEqual(inputs(r).instanceMarketOptions, {
                marketType: "spot", spotOptions: { spotInstanceType: "persistent", instanceInterruptionBehavior: "stop" },
            });
        }
        const onDemand = await declareFleet(fleetArgs());
        assert.ok(ofType(onDemand.resources, T.instance).every((r) => inputs(r).instanceMarketOptions === undefined));
    });

    it("names the key in every validation error", async () => {
        const err = await fleetRejection({
            vpcId: "",
            subnetIds: [],
            allowedCidrs: ["10.0.0.0/8"],
            nodes: { "linux/s390x": { instanceType: "c7g.large" }, "linux/arm64": { instanceType: "c7g.huge.x", count: 0 } } as any,
            cacheVolumeGiB: 5,
            gc: { maxUsedGiB: 500, keepDuration: "a week" },
            idleStopMinutes: -1,
            buildkitVersion: "latest",
            port: 70000,
            certValidityHours: 10,
            builderNamePrefix: "no spaces",
        });
        const lines = err.problems;
        const keys = ["vpcId", "subnetIds", 'nodes["linux/s390x"]', 'nodes["linux/arm64"].instanceType', 'nodes["linux/arm64"].count',
            "cacheVolumeGiB", "gc.maxUsedGiB", "gc.keepDuration", "idleStopMinutes", "buildkitVersion", "port", "certValidityHours", "builderNamePrefix"];
        assert.equal(lines.length, keys.length, lines.join("\n"));
        assert.deepEqual(lines.map((l) => l.split(": ")[0]).sort(), [...keys].sort(), lines.join("\n"));
    });
});
