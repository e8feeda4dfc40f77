// A builder host booted for real: a copy of the boot image (test/e2e/boot/image.sh)
// started by systemd-nspawn with systemd as PID 1, its cloud-init reading the
// user data from the NoCloud seed, in a network namespace of its own behind a
// veth link. The test plays the hypervisor: it attaches a loop device as the
// cache volume, gives the host its address, starts it, and reads its journal.
import { ChildProcess, spawn, spawnSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import { CACHE_DEVICE } from "../../../components/builders/userData";
import { buildctl, ClientTls } from "../fleet/buildkitd";

export interface BootHostOptions {
    /** Working directory (root filesystem, cache volume file, logs); removed by `destroy()`. */
    readonly dir: string;
    /** The boot image's tarball. */
    readonly image: string;
    readonly userData: string;
    /** `/etc/hosts` lines the host resolves by (what DNS gives a host in a VPC). */
    readonly hosts: readonly string[];
    /** CA certificates the image trusts besides Debian's (a private registry's, the AWS stand-in's). */
    readonly trust: readonly string[];
    /** Size of the cache volume's sparse file in GiB. */
    readonly volumeGiB: number;
}

export interface Link {
    readonly netns: string;
    /** The host side of the link (the stand-ins listen here). */
    readonly outside: string;
    /** The builder host's address: what its network interface gets from EC2. */
    readonly inside: string;
}

export function run(cmd: string, args: readonly string[], timeoutMs = 120_000): { code: number; out: string } {
    const r = spawnSync(cmd, args, { encoding: "utf8", timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 });
    return { code: r.status ?? -1, out: `${r.stdout ?? ""}${r.stderr ?? ""}${r.error ? String(r.error) : ""}` };
}

function must(cmd: string, args: readonly string[]): string {
    const r = run(cmd, args);
    if (r.code !== 0) {
        throw new Error(`${cmd} ${args.join(" ")} failed (${r.code}): ${r.out}`);
    }
    return r.out;
}

/**
 * A network namespace joined to this machine by a veth pair with link-local
 * addresses, and, inside it, the instance metadata address led to the
 * stand-in on the outside (as EC2's hypervisor answers 169.254.169.254).
 * Nothing changes in this machine's own namespace but the one veth end.
 */
export function makeLink(imdsPort: number): Link {
    const id = crypto.randomBytes(3).toString("hex");
    const netns = `imagefleet-boot-${id}`;
    const used = run("ip", ["-4", "-o", "addr"]).out;
    let octet = 0;
    for (let tries = 0; tries < 50 && (octet === 0 || used.includes(`169.254.${octet}.`)); tries++) {
        octet = 100 + crypto.randomInt(100);
    }
    const outside = `169.254.${octet}.1`;
    const inside = `169.254.${octet}.2`;
    const [h, c] = [`boot${id}h`, `boot${id}c`];
    must("ip", ["netns", "add", netns]);
    must("ip", ["link", "add", h, "type", "veth", "peer", "name", c]);
    must("ip", ["link", "set", c, "netns", netns]);
    must("ip", ["addr", "add", `${outside}/30`, "dev", h]);
    must("ip", ["link", "set", h, "up"]);
    const inNs = (...args: string[]) => must("ip", ["netns", "exec", netns, ...args]);
    inNs("ip", "link", "set", "lo", "up");
    inNs("ip", "link", "set", c, "name", "eth0");
    inNs("ip", "addr", "add", `${inside}/30`, "dev", "eth0");
    inNs("ip", "link", "set", "eth0", "up");
    inNs("ip", "route", "add", "default", "via", outside);
    inNs("iptables", "-t", "nat", "-A", "OUTPUT", "-d", "169.254.169.254/32", "-p", "tcp", "--dport", "80",
        "-j", "DNAT", "--to-destination", `${outside}:${imdsPort}`);
    return { netns, outside, inside };
}

export function removeLink(link: Link): void {
    // Deleting the namespace deletes the veth pair with it.
    run("ip", ["netns", "delete", link.netns]);
}

export class BootHost {
    readonly rootfs: string;
    readonly name: string;
    loop = "";
    private proc?: ChildProcess;
    private boots = 0;
    /** When the current boot began (epoch ms). */
    startedAt = 0;

    constructor(readonly o: BootHostOptions, readonly link: Link) {
        this.rootfs = path.join(o.dir, "rootfs");
        this.name = link.netns.replace("imagefleet-", "");
    }

    /** The root filesystem, its NoCloud seed, and a blank cache volume: what launching an instance gives. */
    prepare(instanceId: string): void {
        fs.mkdirSync(this.rootfs, { recursive: true });
        must("tar", ["-xf", this.o.image, "-C", this.rootfs]);
        const at = (p: string) => path.join(this.rootfs, p);
        fs.writeFileSync(at("etc/machine-id"), crypto.randomBytes(16).toString("hex") + "\n");
        const seed = at("var/lib/cloud/seed/nocloud");
        fs.mkdirSync(seed, { recursive: true });
        fs.writeFileSync(path.join(seed, "meta-data"), `instance-id: ${instanceId}\nlocal-hostname: ${this.name}\n`);
        fs.writeFileSync(path.join(seed, "user-data"), this.o.userData);
        fs.appendFileSync(at("etc/hosts"), this.o.hosts.map((l) => l + "\n").join(""));
        // Appended to the bundle every client on Debian reads (Go, curl, Python's certifi).
        fs.appendFileSync(at("etc/ssl/certs/ca-certificates.crt"), this.o.trust.join(""));
        const volume = path.join(this.o.dir, "cache-volume.img");
        fs.closeSync(fs.openSync(volume, "w"));
        fs.truncateSync(volume, this.o.volumeGiB * 1024 ** 3);
        this.loop = must("losetup", ["--find", "--show", volume]).trim();
    }

    get running(): boolean {
        return this.proc !== undefined && this.proc.exitCode === null && this.proc.signalCode === null;
    }

    /** Starts the host (power on); its console goes to console-<n>.log. */
    start(): void {
        if (this.running) {
            throw new Error(`${this.name} is already running`);
        }
        this.boots++;
        this.startedAt = Date.now();
        const log = fs.openSync(path.join(this.o.dir, `console-${this.boots}.log`), "w");
        this.proc = spawn("systemd-nspawn", [
            "--boot", "--directory", this.rootfs, "--machine", this.name,
            // No systemd on this machine to register with or to make a scope.
            "--register=no", "--keep-unit",
            `--network-namespace-path=/run/netns/${this.link.netns}`,
            // The cache volume, attached where the fleet's block device mapping puts it.
            `--bind=${this.loop}:${CACHE_DEVICE}`,
            // What runc does for every build step and nspawn withholds from a
            // container (a VM has it): a session keyring (keyrings are not
            // namespaced, so nspawn filters the calls), and a BPF device
            // filter on the step's cgroup (cgroup v2).
            "--system-call-filter=@keyring bpf",
            "--capability=CAP_NET_ADMIN,CAP_BPF",
            "--console=read-only",
        ], { stdio: ["ignore", log, log], env: { ...process.env, SYSTEMD_NSPAWN_UNIFIED_HIERARCHY: "1" } });
        fs.closeSync(log);
    }

    /** PID 1 of the host, as this machine sees it. */
    leader(): number {
        if (!this.running) {
            throw new Error(`${this.name} is not running`);
        }
        const children = fs.readFileSync(`/proc/${this.proc!.pid}/task/${this.proc!.pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean);
        if (children.length !== 1) {
            throw new Error(`${this.name}: nspawn has children ${children.join(",") || "none"}`);
        }
        return Number(children[0]);
    }

    /** A command inside the host, as root (`nsenter`: what SSM Session Manager would give). */
    exec(args: readonly string[], timeoutMs = 60_000): { code: number; out: string } {
        return run("nsenter", ["--target", String(this.leader()), "--all", ...args], timeoutMs);
    }

    /** The host's journal, all boots, read from its root filesystem (works after it stopped). */
    journal(lines = 300, ...filter: string[]): string {
        return run("journalctl", ["--directory", path.join(this.rootfs, "var/log/journal"), "--no-pager", "-o", "short-precise", "-n", String(lines), ...filter]).out;
    }

    /** What a program logged (its syslog identifier, e.g. a script's name), with the times (epoch ms). */
    messages(identifier: string): { at: number; message: string }[] {
        const out = run("journalctl", ["--directory", path.join(this.rootfs, "var/log/journal"), "--no-pager", "-o", "json", `SYSLOG_IDENTIFIER=${identifier}`]).out;
        return out.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l))
            .map((e) => ({ at: Number(e.__REALTIME_TIMESTAMP) / 1000, message: String(e.MESSAGE) }));
    }

    /** An error that says why, with what the host logged: cloud-init's output and the journal. */
    failure(why: string): Error {
        const output = path.join(this.rootfs, "var/log/cloud-init-output.log");
        const cloudInit = fs.existsSync(output) ? fs.readFileSync(output, "utf8").slice(-3000) : "(none)";
        return new Error(`builder host ${this.name}: ${why}\n--- /var/log/cloud-init-output.log\n${cloudInit}\n--- journal of the host\n${this.journal(200)}`);
    }

    /** cloud-init's result of the current boot, once its final stage is done. */
    cloudInitResult(since: number): { errors: string[] } | undefined {
        const file = path.join(this.rootfs, "var/lib/cloud/data/result.json");
        if (!fs.existsSync(file) || fs.statSync(file).mtimeMs < since) {
            return undefined;
        }
        return { errors: (JSON.parse(fs.readFileSync(file, "utf8")).v1?.errors ?? []).map(String) };
    }

    /**
     * Resolves when cloud-init finished this boot without errors and buildkitd
     * serves `client` at `addr`; otherwise rejects with the host's journal.
     */
    async ready(addr: string, client: ClientTls, seconds: number): Promise<number> {
        const started = this.startedAt;
        for (let waited = 0; waited < seconds * 1000; waited = Date.now() - started) {
            if (!this.running) {
                throw this.failure(`it stopped while booting (nspawn exit ${this.proc?.exitCode ?? this.proc?.signalCode})`);
            }
            const result = this.cloudInitResult(started);
            if (result && result.errors.length > 0) {
                throw this.failure(`cloud-init reported errors: ${result.errors.join("; ")}`);
            }
            if (result && buildctl(addr, client, "debug", "workers").code === 0) {
                return (Date.now() - started) / 1000;
            }
            await new Promise((r) => setTimeout(r, 1000));
        }
        throw this.failure(`buildkitd did not serve on ${addr} within ${seconds} s of power-on`);
    }

    console(): string {
        try {
            return fs.readFileSync(path.join(this.o.dir, `console-${this.boots}.log`), "utf8").slice(-6000);
        } catch {
            return "(no console log)";
        }
    }

    /** Resolves when the host's systemd exited (poweroff), or rejects after `seconds`. */
    async stopped(seconds: number): Promise<void> {
        const p = this.proc;
        if (!p || !this.running) {
            return;
        }
        await new Promise<void>((resolve, reject) => {
            const timer = setTimeout(() => reject(new Error(`${this.name} still runs after ${seconds} s`)), seconds * 1000);
            p.once("exit", () => {
                clearTimeout(timer);
                resolve();
            });
        });
    }

    /** Powers the host off from outside, as the hypervisor would (ACPI: nspawn sends systemd SIGRTMIN+4). */
    async powerOff(seconds = 60): Promise<void> {
        if (!this.running) {
            return;
        }
        this.proc!.kill("SIGTERM");
        try {
            await this.stopped(seconds);
        } catch {
            this.proc!.kill("SIGKILL");
            await this.stopped(10);
        }
    }

    async destroy(): Promise<void> {
        const t0 = Date.now();
        await this.powerOff(30).catch(() => undefined);
        const off = Date.now() - t0;
        if (this.loop) {
            run("losetup", ["--detach", this.loop]);
        }
        // rm(1): several times faster than fs.rmSync on a root filesystem's many small files.
        run("rm", ["-rf", "--one-file-system", this.o.dir]);
        if (process.env.IMAGEFLEET_BOOT_TIMES) {
            console.log(`      ${this.name}: power-off ${off} ms, removal ${Date.now() - t0 - off} ms`);
        }
    }
}
