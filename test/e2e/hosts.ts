// The set of local builder hosts a spec runs on (test/e2e/buildkitd.sh): the
// local stack's own (`local`: 1234/1235, pool hosts from 1240), or, with
// IMAGEFLEET_HOST_SET=side, a second set with ports and builder names of its
// own, so the specs that kill hosts (pools, faults) run beside the specs that
// build on the first set (test/e2e/lanes.sh).
import * as os from "os";
import * as path from "path";
import { sh } from "./support";

export const HOST_SET = process.env.IMAGEFLEET_HOST_SET || "local";
const PORTS: Record<string, { amd64: number; arm64: number; pool: number }> = {
    local: { amd64: 1234, arm64: 1235, pool: 1240 },
    side: { amd64: 1236, arm64: 1237, pool: 1250 },
};
if (!PORTS[HOST_SET]) {
    throw new Error(`IMAGEFLEET_HOST_SET must be one of ${Object.keys(PORTS).join(", ")} (got "${HOST_SET}")`);
}

/** A host is an arch (the first of its platform) or `<arch>-<i>`, i >= 1, of a pool. */
export function hostPort(host: string): number {
    const [arch, index = "0"] = host.split("-") as ["amd64" | "arm64", string?];
    const ports = PORTS[HOST_SET];
    const i = Number(index);
    return i === 0 ? ports[arch] : ports.pool + 2 * (i - 1) + (arch === "arm64" ? 1 : 0);
}

/** The buildx builder `buildkitd.sh` registers for a host. */
export const builderName = (host: string) => `imagefleet-${HOST_SET}-${host}`;

/** The client certificates every set shares. */
export const CERTS = path.join(process.env.IMAGEFLEET_STATE_DIR ?? "/var/lib/imagefleet-e2e", "buildkit", "certs");

/** buildctl's (and buildkit-probe's) flags for a local host on `port`, with the client certificate every set shares. */
export const hostClientArgs = (port: number) => ["--addr", `tcp://127.0.0.1:${port}`, "--tlsservername", "localhost",
    "--tlscacert", path.join(CERTS, "ca.pem"), "--tlscert", path.join(CERTS, "client.pem"), "--tlskey", path.join(CERTS, "client-key.pem")];

/** The public key `buildkitd.sh attestors start` publishes for a host's attestor. */
export const attestorPub = (host: string) => path.join(process.env.IMAGEFLEET_STATE_DIR ?? "/var/lib/imagefleet-e2e", "attestors", `${builderName(host)}.pub`);

/** `supplychain.attestors` (and `verify.builderKeys`) for this set's first hosts: each builder with its attestor's key. */
export const attestorKeys = () => Object.fromEntries((["amd64", "arm64"] as const).map((a) => [builderName(a), attestorPub(a)]));

/** `cosign verify-attestation` of `subject` with `key` (a key file), as a user checks a host's word. */
export function verifyAttestation(key: string, type: "slsaprovenance1" | "spdxjson", subject: string) {
    const cosign = path.join(process.env.IMAGEFLEET_TOOLS_DIR ?? path.join(os.homedir(), ".cache", "imagefleet", "tools"), "bin", "cosign");
    return sh(cosign, ["verify-attestation", "--insecure-ignore-tlog=true", "--key", key, "--type", type, subject]);
}

/** The stack config's `builders` for this set's first hosts. */
export const localBuilders = () => ({ "linux/amd64": builderName("amd64"), "linux/arm64": builderName("arm64") });
