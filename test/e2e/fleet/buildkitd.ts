// Runs a real buildkitd the way a fleet host does: the toml from the fleet's
// own renderer, the fleet's certificates, TCP with mutual TLS — on 127.0.0.1.
import { ChildProcess, spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import { HostConfig, hostBuildkitdToml } from "../../../components/builders/userData";
import { FleetPems } from "./certs";

export const TOOLS_BIN = path.join(process.env.IMAGEFLEET_TOOLS_DIR ?? path.join(os.homedir(), ".cache", "imagefleet", "tools"), "bin");
export const BUILDKITD = path.join(TOOLS_BIN, "buildkitd");
export const BUILDCTL = path.join(TOOLS_BIN, "buildctl");

/** A port nobody listens on right now (other engineers' buildkitd use 1234/1235). */
export function freePort(): Promise<number> {
    return new Promise((resolve, reject) => {
        const srv = net.createServer();
        srv.once("error", reject);
        srv.listen(0, "127.0.0.1", () => {
            const { port } = srv.address() as net.AddressInfo;
            srv.close(() => resolve(port));
        });
    });
}

export interface ClientTls {
    readonly caFile: string;
    readonly serverName: string;
    readonly certFile?: string;
    readonly keyFile?: string;
}

/** `buildctl … debug workers`, with whatever client TLS the caller brings. */
export function buildctl(addr: string, tls: ClientTls, ...args: string[]): { code: number; out: string } {
    const r = spawnSync(BUILDCTL, [
        "--addr", addr, "--timeout", "10", "--tlscacert", tls.caFile, "--tlsservername", tls.serverName,
        ...(tls.certFile ? ["--tlscert", tls.certFile, "--tlskey", tls.keyFile!] : []),
        ...args,
    // A long-lived host's history lists past Node's 1 MiB default (285 records were 1.1 MB), which kills buildctl.
    ], { encoding: "utf8", timeout: 60_000, maxBuffer: 256 * 1024 * 1024 });
    return { code: r.status ?? -1, out: `${r.stdout}${r.stderr}${r.error ? `\n${r.error.message}` : ""}` };
}

/** One build in a BuildKit history: the names it exported, and when it ran (ms since the epoch; NaN when not recorded). */
export interface HistoryRecord { readonly exports: string[]; readonly created: number; readonly completed: number }

/** A protobuf Timestamp as buildctl prints it ({ seconds, nanos }), in milliseconds. */
const millis = (t?: { seconds?: number | string; nanos?: number }) => (t?.seconds === undefined ? NaN : Number(t.seconds) * 1000 + (t.nanos ?? 0) / 1e6);

/** What `buildctl debug histories --format json` printed, one record per build. */
export function historyRecords(stdout: string): HistoryRecord[] {
    return stdout.split("\n").filter((l) => l.trim().startsWith("{")).map((l) => {
        const record = JSON.parse(l).record ?? {};
        return {
            exports: ((record.Exporters ?? []) as { Attrs?: { name?: string } }[]).map((e) => e.Attrs?.name ?? ""),
            created: millis(record.CreatedAt),
            completed: millis(record.CompletedAt),
        };
    });
}

export class Buildkitd {
    readonly addr: string;
    readonly tlsDir: string;
    readonly toml: string;
    private proc?: ChildProcess;

    /**
     * `pin.cpus`: a CPU list for `taskset -c` (e.g. `"1"`): the daemon, and
     * every build step it starts (they inherit its affinity), run on those CPUs
     * only. `pin.nice`: their scheduling niceness, also inherited, so that
     * processes outside the host (the engine, the registry) come first on the
     * CPUs they share with it, as they would on machines of their own.
     */
    constructor(readonly dir: string, readonly host: HostConfig, readonly pems: FleetPems, registryCAs: Record<string, string[]>,
        readonly pin?: { readonly cpus: string; readonly nice?: number }) {
        this.addr = `tcp://127.0.0.1:${host.port}`;
        this.tlsDir = path.join(dir, "tls");
        // Host paths, address and the build bridge (several daemons share this
        // machine; each a /24 of the fleet's subnet, which buildkitd.sh fences)
        // are the only overrides; the rest is the fleet's rendering.
        this.toml = hostBuildkitdToml(host, {
            listenAddress: "127.0.0.1",
            tlsDir: this.tlsDir,
            root: path.join(dir, "root"),
            registryCAs,
            otelSocketPath: path.join(dir, "otel-grpc.sock"),
            attestorSocket: path.join(dir, "attestor.sock"),
            buildNetwork: { bridgeName: `bkf${host.port}`, subnet: `10.10.${200 + (host.port % 50)}.0/24` },
        });
    }

    /** The client TLS of the fleet's own client certificate. */
    get fleetClient(): ClientTls {
        return { caFile: path.join(this.tlsDir, "ca.pem"), serverName: this.pems.serverName, certFile: path.join(this.dir, "client.pem"), keyFile: path.join(this.dir, "client-key.pem") };
    }

    async start(): Promise<void> {
        fs.mkdirSync(this.tlsDir, { recursive: true, mode: 0o700 });
        fs.writeFileSync(path.join(this.tlsDir, "ca.pem"), this.pems.ca.cert);
        fs.writeFileSync(path.join(this.tlsDir, "cert.pem"), this.pems.server.cert);
        fs.writeFileSync(path.join(this.tlsDir, "key.pem"), this.pems.server.key, { mode: 0o600 });
        fs.writeFileSync(path.join(this.dir, "client.pem"), this.pems.client.cert);
        fs.writeFileSync(path.join(this.dir, "client-key.pem"), this.pems.client.key, { mode: 0o600 });
        const config = path.join(this.dir, "buildkitd.toml");
        fs.writeFileSync(config, this.toml);
        const log = fs.openSync(path.join(this.dir, "buildkitd.log"), "a");
        const daemon = [BUILDKITD, "--config", config];
        const pinned = this.pin === undefined ? daemon : ["taskset", "-c", this.pin.cpus, ...(this.pin.nice === undefined ? [] : ["nice", "-n", String(this.pin.nice)]), ...daemon];
        const [cmd, ...args] = pinned;
        this.proc = spawn(cmd, args, {
            stdio: ["ignore", log, log],
            env: { ...process.env, PATH: `${TOOLS_BIN}:${process.env.PATH}:/usr/sbin:/sbin` },
        });
        for (let i = 0; i < 120; i++) {
            if (this.proc.exitCode !== null) {
                throw new Error(`buildkitd exited ${this.proc.exitCode}:\n${this.log()}`);
            }
            if (buildctl(this.addr, this.fleetClient, "debug", "workers").code === 0) {
                return;
            }
            await new Promise((r) => setTimeout(r, 500));
        }
        throw new Error(`buildkitd did not answer on ${this.addr} within 60 s:\n${this.log()}`);
    }

    /** The daemon's pid (taskset and nice exec it: the same process). */
    get pid(): number | undefined {
        return this.proc?.pid;
    }

    log(): string {
        try {
            return fs.readFileSync(path.join(this.dir, "buildkitd.log"), "utf8").slice(-4000);
        } catch {
            return "(no log)";
        }
    }

    async stop(): Promise<void> {
        const p = this.proc;
        if (!p || p.exitCode !== null) {
            return;
        }
        const exited = new Promise((r) => p.once("exit", r));
        p.kill("SIGTERM");
        const timer = setTimeout(() => p.kill("SIGKILL"), 20_000);
        await exited;
        clearTimeout(timer);
    }
}
