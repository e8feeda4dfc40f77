import * as pulumi from "@pulumi/pulumi";
import { FleetResource } from "../fleetResource";
import type { BuildxRegistrationArgs } from "./types";
import { validateRegistration } from "./validate";

/** One buildkitd host of a builder. */
export interface RegistrationNode {
    /** `tcp://host:port`. */
    readonly endpoint: string;
    /** The name the host's certificate is verified against. */
    readonly serverName: string;
}

/** What the provider works with once every input is known. */
export interface RegistrationState {
    readonly builderName: string;
    readonly platform: string;
    readonly nodes: readonly RegistrationNode[];
    readonly caPem: string;
    readonly certPem: string;
    readonly keyPem: string;
    /** Where the client certificates are written. Default: `~/.imagefleet/buildx/<builderName>`. */
    readonly certDir?: string;
    /** Seconds to wait for every node to answer after registering. Default: `0` (no wait). */
    readonly waitSeconds?: number;
}

// Everything below runs inside the dynamic provider, which Pulumi serializes:
// it may use only its arguments and modules it requires itself.

function docker(args: string[], allowFailure = false): { ok: boolean; out: string } {
    const cp = require("child_process");
    const r = cp.spawnSync(process.env.IMAGEFLEET_DOCKER || "docker", args, { encoding: "utf8", timeout: 120_000 });
    const out = `${r.stdout ?? ""}${r.stderr ?? ""}${r.error ? String(r.error) : ""}`.trim();
    if (r.status !== 0 && !allowFailure) {
        throw new Error(`docker ${args.join(" ")} failed (exit ${r.status}): ${out}`);
    }
    return { ok: r.status === 0, out };
}

function certDirOf(s: RegistrationState): string {
    const path = require("path");
    return s.certDir || path.join(require("os").homedir(), ".imagefleet", "buildx", s.builderName);
}

/** buildx keeps one file per builder under its config directory. */
function isRegistered(name: string): boolean {
    const fs = require("fs");
    const path = require("path");
    const dir = process.env.BUILDX_CONFIG
        || path.join(process.env.DOCKER_CONFIG || path.join(require("os").homedir(), ".docker"), "buildx");
    return fs.existsSync(path.join(dir, "instances", name));
}

export function registerBuilder(s: RegistrationState): string {
    const fs = require("fs");
    const path = require("path");
    const dir = certDirOf(s);
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    fs.chmodSync(dir, 0o700);
    const write = (file: string, content: string, mode: number) => {
        const p = path.join(dir, file);
        fs.writeFileSync(p, content, { mode });
        fs.chmodSync(p, mode);
        return p;
    };
    const ca = write("ca.pem", s.caPem, 0o644);
    const cert = write("cert.pem", s.certPem, 0o644);
    const key = write("key.pem", s.keyPem, 0o600);
    if (isRegistered(s.builderName)) {
        docker(["buildx", "rm", s.builderName], true);
    }
    s.nodes.forEach((node, i) => {
        docker([
            "buildx", "create", "--name", s.builderName, "--node", `${s.builderName}-${i}`,
            ...(i > 0 ? ["--append"] : []),
            "--driver", "remote",
            "--driver-opt", `cacert=${ca},cert=${cert},key=${key},servername=${node.serverName}`,
            "--platform", s.platform,
            node.endpoint,
        ]);
    });
    return dir;
}

/** Polls `buildx inspect --bootstrap` (a TLS handshake with every node) until it works or time runs out. */
export function waitForBuilder(s: RegistrationState): void {
    if (!s.waitSeconds) {
        return;
    }
    const deadline = Date.now() + s.waitSeconds * 1000;
    for (;;) {
        const r = docker(["buildx", "inspect", "--bootstrap", s.builderName], true);
        if (r.ok) {
            return;
        }
        if (Date.now() >= deadline) {
            throw new Error(`buildx builder ${s.builderName} did not answer within ${s.waitSeconds}s `
                + `(hosts stopped when idle must be started first: README.md, "Native builders", "Starting stopped hosts"): ${r.out}`);
        }
        require("child_process").spawnSync("sleep", ["10"]);
    }
}

export function unregisterBuilder(s: RegistrationState): void {
    if (isRegistered(s.builderName)) {
        docker(["buildx", "rm", s.builderName], true);
    }
    require("fs").rmSync(certDirOf(s), { recursive: true, force: true });
}

const FIELDS = ["builderName", "platform", "nodes", "caPem", "certPem", "keyPem", "certDir"] as const;

/** Creates the builder with `docker buildx create --driver remote` and removes it on delete. */
export const buildxProvider: pulumi.dynamic.ResourceProvider = {
    async create(inputs: RegistrationState) {
        const certDir = registerBuilder(inputs);
        waitForBuilder(inputs);
        return { id: inputs.builderName, outs: { ...inputs, certDir } };
    },
    async diff(_id: string, olds: RegistrationState, news: RegistrationState) {
        const changed = FIELDS.filter((f) => f !== "certDir" && JSON.stringify(olds[f]) !== JSON.stringify(news[f]));
        // Each CI run starts on a fresh machine: the builder is in the state but
        // not in that machine's buildx, so report a change and register it again.
        if (!isRegistered(news.builderName)) {
            changed.push("nodes");
        }
        return { changes: changed.length > 0, replaces: changed.includes("builderName") ? ["builderName"] : [], deleteBeforeReplace: true };
    },
    async update(_id: string, olds: RegistrationState, news: RegistrationState) {
        if (olds.certDir && olds.certDir !== certDirOf(news)) {
            require("fs").rmSync(olds.certDir, { recursive: true, force: true });
        }
        const certDir = registerBuilder(news);
        waitForBuilder(news);
        return { outs: { ...news, certDir } };
    },
    async delete(_id: string, props: RegistrationState) {
        unregisterBuilder(props);
    },
};

/**
 * A buildx `remote` builder on the machine running `pulumi up`, pointing at
 * fleet hosts with the fleet's client certificate. An ImageFamily given
 * `builderName` builds after it exists.
 */
export class BuildxRegistration extends FleetResource {
    // `declare`: a class field would reset what the base constructor set (ES2022 class fields).
    /** The registered buildx builder's name; resolves once the builder exists. */
    declare public readonly builderName: pulumi.Output<string>;
    /** Directory holding the builder's CA, client certificate and key. */
    declare public readonly certDir: pulumi.Output<string>;

    constructor(name: string, args: BuildxRegistrationArgs, opts?: pulumi.CustomResourceOptions) {
        validateRegistration(name, args);
        super(buildxProvider, name, { ...args, keyPem: pulumi.secret(args.keyPem), certDir: args.certDir }, {
            ...opts,
            additionalSecretOutputs: ["keyPem"],
        }, "builders", "BuildxRegistration");
    }
}
