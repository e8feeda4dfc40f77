// Declares a BuilderFleet under the harness's mocks and writes down what a
// host of it receives: the user data exactly as the component renders it, the
// TLS key its SSM parameter holds, and the client certificate. Only @pulumi/tls
// is stood in for (it needs the engine): its resources answer with real keys
// and certificates that openssl issues from the inputs the fleet gave them, so
// the certificates' names and addresses are the fleet's own.
//
// Run in a process of its own (mocks are process-wide):
//   node -r ts-node/register/transpile-only test/e2e/boot/render.ts REQUEST.json RESULT.json
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { BuilderFleet, BuilderFleetArgs, FleetPlatform } from "../../../components/builders";
import { CertProfile } from "../../../components/builders/certificates";
import { evaluate, unwrapSecrets } from "../../../scripts/harness/mocks";
import { issue, Pem } from "../fleet/certs";

export interface RenderRequest {
    /** Component name; the host is `<fleet>-<arch>-0`. */
    readonly fleet: string;
    readonly args: BuilderFleetArgs;
    readonly platform: FleetPlatform;
    /** The address the host's network interface gets: its certificate names it. */
    readonly hostIp: string;
}

export interface RenderedHost {
    readonly userData: string;
    /** SSM parameter the key fetcher reads, and the key in it. */
    readonly keyParameter: string;
    readonly keyPem: string;
    readonly caPem: string;
    readonly clientCertPem: string;
    readonly clientKeyPem: string;
    /** The name the host's certificate is issued for (the buildx registration's `servername`). */
    readonly serverName: string;
    readonly endpoint: string;
    readonly builderName: string;
}

/** @pulumi/tls, answering with real keys and certificates. */
function tlsStates(dir: string) {
    const csrs = new Map<string, Record<string, any>>();
    const profile = (subject: any, csr: { dnsNames?: string[]; ipAddresses?: string[] }, cert: Record<string, any>): CertProfile => ({
        subject: { commonName: subject.commonName, organization: subject.organization },
        dnsNames: csr.dnsNames ?? [],
        ipAddresses: csr.ipAddresses ?? [],
        allowedUses: cert.allowedUses ?? [],
        isCa: cert.isCaCertificate ?? false,
        validityHours: cert.validityPeriodHours,
    });
    return {
        "tls:index/privateKey:PrivateKey": (_name: string, inputs: Record<string, any>) => {
            if (inputs.algorithm !== "ECDSA" || inputs.ecdsaCurve !== "P256") {
                throw new Error(`the boot test issues P-256 keys; the fleet asked for ${inputs.algorithm} ${inputs.ecdsaCurve}`);
            }
            const { privateKey } = crypto.generateKeyPairSync("ec", { namedCurve: "P-256" });
            return { privateKeyPem: privateKey.export({ type: "sec1", format: "pem" }) as string };
        },
        "tls:index/certRequest:CertRequest": (name: string, inputs: Record<string, any>) => {
            csrs.set(name, inputs);
            return { certRequestPem: `csr:${name}` };
        },
        "tls:index/selfSignedCert:SelfSignedCert": (name: string, inputs: Record<string, any>) =>
            ({ certPem: issue(dir, name, profile(inputs.subject, {}, inputs), undefined, inputs.privateKeyPem).cert }),
        "tls:index/locallySignedCert:LocallySignedCert": (name: string, inputs: Record<string, any>) => {
            const csr = csrs.get(String(inputs.certRequestPem).replace(/^csr:/, ""));
            if (!csr) {
                throw new Error(`${name}: no certificate request ${inputs.certRequestPem}`);
            }
            const signer: Pem = { cert: inputs.caCertPem, key: inputs.caPrivateKeyPem };
            return { certPem: issue(dir, name, profile(csr.subject, csr, inputs), signer, csr.privateKeyPem).cert };
        },
    };
}

export async function renderHost(req: RenderRequest): Promise<RenderedHost> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "imagefleet-boot-pki-"));
    try {
        const { resources } = await evaluate({
            stack: "boot",
            states: {
                ...tlsStates(dir),
                "aws:ec2/networkInterface:NetworkInterface": () => ({ privateIp: req.hostIp }),
            },
            program: () => {
                new BuilderFleet(req.fleet, req.args);
            },
        });
        const one = (type: string) => {
            const found = resources.filter((r) => r.type === type);
            if (found.length !== 1) {
                throw new Error(`expected one ${type}, the fleet declared ${found.length}`);
            }
            return unwrapSecrets({ ...found[0].state, ...found[0].inputs });
        };
        const instance = one("aws:ec2/instance:Instance");
        const parameter = one("aws:ssm/parameter:Parameter");
        const registration = one("pulumi-nodejs:dynamic/builders:BuildxRegistration");
        return {
            userData: instance.userData,
            keyParameter: parameter.name,
            keyPem: parameter.value,
            caPem: registration.caPem,
            clientCertPem: registration.certPem,
            clientKeyPem: registration.keyPem,
            serverName: registration.nodes[0].serverName,
            endpoint: registration.nodes[0].endpoint,
            builderName: registration.builderName,
        };
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

if (require.main === module) {
    const [request, result] = process.argv.slice(2);
    renderHost(JSON.parse(fs.readFileSync(request, "utf8")))
        .then((host) => fs.writeFileSync(result, JSON.stringify(host), { mode: 0o600 }))
        .catch((err) => {
            console.error(err);
            process.exit(1);
        });
}
