import * as pulumi from "@pulumi/pulumi";
import * as tls from "@pulumi/tls";

/**
 * The parameters of every certificate the fleet issues. The fleet hands them
 * to @pulumi/tls; the e2e test hands the same objects to openssl, so what the
 * real buildkitd is tested with is what a host gets.
 */
export interface CertProfile<T = string> {
    readonly subject: { readonly commonName: string; readonly organization: string };
    readonly dnsNames: readonly string[];
    readonly ipAddresses: readonly T[];
    /** @pulumi/tls `allowedUses` names. */
    readonly allowedUses: readonly string[];
    readonly isCa: boolean;
    readonly validityHours: number;
}

/** P-256 ECDSA: small keys and fast handshakes; buildkitd and buildx (Go) support it. */
export const KEY_ALGORITHM = { algorithm: "ECDSA", ecdsaCurve: "P256" } as const;

/** Certificates are replaced on the first `pulumi up` within this many hours of expiry. */
export const RENEW_BEFORE_HOURS = 720;

const ORGANIZATION = "imagefleet";

export function caProfile(fleet: string, validityHours: number): CertProfile<never> {
    return {
        subject: { commonName: `${fleet} BuildKit CA`, organization: ORGANIZATION },
        dnsNames: [],
        ipAddresses: [],
        allowedUses: ["cert_signing", "crl_signing", "digital_signature"],
        isCa: true,
        validityHours,
    };
}

/**
 * A host's server certificate. `serverName` is a stable name the buildx
 * registration verifies (`servername=`), so the check does not depend on which
 * address a client dials; `ipAddresses` covers the endpoint itself for clients
 * that verify the address.
 */
export function serverProfile<T>(serverName: string, ipAddresses: readonly T[], validityHours: number): CertProfile<T> {
    return {
        subject: { commonName: serverName, organization: ORGANIZATION },
        dnsNames: [serverName],
        ipAddresses,
        allowedUses: ["digital_signature", "server_auth"],
        isCa: false,
        validityHours,
    };
}

export function clientProfile(fleet: string, validityHours: number): CertProfile<never> {
    return {
        subject: { commonName: `${fleet}-client`, organization: ORGANIZATION },
        dnsNames: [],
        ipAddresses: [],
        allowedUses: ["digital_signature", "client_auth"],
        isCa: false,
        validityHours,
    };
}

/** The name a host's certificate is issued for. Not in DNS: only TLS checks it. */
export function serverNameOf(host: string): string {
    return `${host}.buildkit.imagefleet.internal`;
}

export interface IssuedCert {
    readonly certPem: pulumi.Output<string>;
    /** Always a secret. */
    readonly keyPem: pulumi.Output<string>;
}

export interface HostCertRequest {
    /** Resource name prefix for the host's key and certificate. */
    readonly name: string;
    readonly serverName: string;
    readonly ipAddresses: readonly pulumi.Input<string>[];
}

export interface FleetCerts {
    readonly ca: IssuedCert;
    readonly client: IssuedCert;
    readonly servers: readonly IssuedCert[];
}

function privateKey(name: string, parent: pulumi.Resource): tls.PrivateKey {
    // The provider marks these secret already; repeating it keeps them secret
    // even if a provider version forgets.
    return new tls.PrivateKey(name, { ...KEY_ALGORITHM }, {
        parent,
        additionalSecretOutputs: ["privateKeyPem", "privateKeyPemPkcs8", "privateKeyOpenssh"],
    });
}

function signed(name: string, profile: CertProfile<pulumi.Input<string>>, ca: tls.SelfSignedCert, caKey: tls.PrivateKey, parent: pulumi.Resource): IssuedCert {
    const key = privateKey(`${name}-key`, parent);
    const csr = new tls.CertRequest(`${name}-csr`, {
        privateKeyPem: key.privateKeyPem,
        subject: { ...profile.subject },
        dnsNames: [...profile.dnsNames],
        ipAddresses: [...profile.ipAddresses],
    }, { parent });
    const cert = new tls.LocallySignedCert(name, {
        certRequestPem: csr.certRequestPem,
        caCertPem: ca.certPem,
        caPrivateKeyPem: caKey.privateKeyPem,
        allowedUses: [...profile.allowedUses],
        isCaCertificate: profile.isCa,
        validityPeriodHours: profile.validityHours,
        earlyRenewalHours: RENEW_BEFORE_HOURS,
    }, { parent });
    return { certPem: cert.certPem, keyPem: pulumi.secret(key.privateKeyPem) };
}

/** The fleet's CA, its client certificate, and one server certificate per host. */
export function fleetCertificates(fleet: string, validityHours: number, hosts: readonly HostCertRequest[], parent: pulumi.Resource): FleetCerts {
    const caKey = privateKey(`${fleet}-ca-key`, parent);
    const profile = caProfile(fleet, validityHours);
    const ca = new tls.SelfSignedCert(`${fleet}-ca`, {
        privateKeyPem: caKey.privateKeyPem,
        subject: { ...profile.subject },
        allowedUses: [...profile.allowedUses],
        isCaCertificate: true,
        validityPeriodHours: validityHours,
        earlyRenewalHours: RENEW_BEFORE_HOURS,
    }, { parent });
    return {
        ca: { certPem: ca.certPem, keyPem: pulumi.secret(caKey.privateKeyPem) },
        client: signed(`${fleet}-client`, clientProfile(fleet, validityHours), ca, caKey, parent),
        servers: hosts.map((h) => signed(`${h.name}-tls`, serverProfile(h.serverName, h.ipAddresses, validityHours), ca, caKey, parent)),
    };
}
