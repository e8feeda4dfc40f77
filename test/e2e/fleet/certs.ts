// Issues the fleet's certificates with openssl, from the same CertProfile
// objects the fleet hands to @pulumi/tls (which cannot run without the engine).
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { caProfile, CertProfile, clientProfile, KEY_ALGORITHM, serverNameOf, serverProfile } from "../../../components/builders/certificates";

/** @pulumi/tls `allowedUses` → the X.509 extension openssl writes for it. */
const KEY_USAGE: Record<string, string> = {
    digital_signature: "digitalSignature",
    key_encipherment: "keyEncipherment",
    cert_signing: "keyCertSign",
    crl_signing: "cRLSign",
};
const EXTENDED_KEY_USAGE: Record<string, string> = {
    server_auth: "serverAuth",
    client_auth: "clientAuth",
};

export interface Pem {
    readonly cert: string;
    readonly key: string;
}

function openssl(args: string[], cwd: string): void {
    const r = spawnSync("openssl", args, { cwd, encoding: "utf8" });
    if (r.status !== 0) {
        throw new Error(`openssl ${args.join(" ")} failed: ${r.stderr}`);
    }
}

/** The openssl extension section for a profile; throws on a use it does not know, so a new use cannot slip past the test. */
export function extensions(profile: CertProfile): string {
    const unknown = profile.allowedUses.filter((u) => !(u in KEY_USAGE) && !(u in EXTENDED_KEY_USAGE));
    if (unknown.length > 0) {
        throw new Error(`no openssl mapping for allowedUses ${unknown.join(", ")}`);
    }
    const ku = profile.allowedUses.filter((u) => u in KEY_USAGE).map((u) => KEY_USAGE[u]);
    const eku = profile.allowedUses.filter((u) => u in EXTENDED_KEY_USAGE).map((u) => EXTENDED_KEY_USAGE[u]);
    const san = [...profile.dnsNames.map((d) => `DNS:${d}`), ...profile.ipAddresses.map((ip) => `IP:${ip}`)];
    return [
        `basicConstraints = critical, CA:${profile.isCa ? "TRUE" : "FALSE"}`,
        `keyUsage = critical, ${ku.join(", ")}`,
        ...(eku.length > 0 ? [`extendedKeyUsage = ${eku.join(", ")}`] : []),
        ...(san.length > 0 ? [`subjectAltName = ${san.join(", ")}`] : []),
        "subjectKeyIdentifier = hash",
    ].join("\n") + "\n";
}

/** One key and certificate for `profile`, signed by `signer` (self-signed when absent); `keyPem` reuses a key instead of making one. */
export function issue(dir: string, name: string, profile: CertProfile, signer?: Pem, keyPem?: string): Pem {
    if (KEY_ALGORITHM.algorithm !== "ECDSA" || KEY_ALGORITHM.ecdsaCurve !== "P256") {
        throw new Error(`the test issues P-256 ECDSA keys; the fleet now uses ${JSON.stringify(KEY_ALGORITHM)}`);
    }
    fs.mkdirSync(dir, { recursive: true });
    const f = (ext: string) => path.join(dir, `${name}.${ext}`);
    if (keyPem === undefined) {
        openssl(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", f("key.pem")], dir);
    } else {
        fs.writeFileSync(f("key.pem"), keyPem, { mode: 0o600 });
    }
    const subject = `/CN=${profile.subject.commonName}/O=${profile.subject.organization}`;
    openssl(["req", "-new", "-key", f("key.pem"), "-subj", subject, "-out", f("csr")], dir);
    fs.writeFileSync(f("ext"), extensions(profile));
    const days = String(Math.ceil(profile.validityHours / 24));
    const signWith = signer
        ? (() => {
            fs.writeFileSync(f("ca.pem"), signer.cert);
            fs.writeFileSync(f("ca-key.pem"), signer.key, { mode: 0o600 });
            return ["-CA", f("ca.pem"), "-CAkey", f("ca-key.pem"), "-CAcreateserial"];
        })()
        : ["-signkey", f("key.pem")];
    openssl(["x509", "-req", "-in", f("csr"), ...signWith, "-sha256", "-days", days, "-extfile", f("ext"), "-out", f("pem")], dir);
    return { cert: fs.readFileSync(f("pem"), "utf8"), key: fs.readFileSync(f("key.pem"), "utf8") };
}

export interface FleetPems {
    readonly ca: Pem;
    readonly server: Pem;
    readonly client: Pem;
    readonly serverName: string;
}

/** What `fleetCertificates` issues for a fleet with one host reached at `ip`. */
export function fleetPems(dir: string, fleet: string, host: string, ip: string, validityHours = 8760): FleetPems {
    const ca = issue(dir, "ca", caProfile(fleet, validityHours));
    const serverName = serverNameOf(host);
    return {
        ca,
        server: issue(dir, "server", serverProfile(serverName, [ip], validityHours), ca),
        client: issue(dir, "client", clientProfile(fleet, validityHours), ca),
        serverName,
    };
}
