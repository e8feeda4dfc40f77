import * as pulumi from "@pulumi/pulumi";
import type * as tlsTypes from "tls";

/**
 * Pre-flight check of the buildx builders a family builds on, run once at the
 * start of `pulumi up` (never in preview: pull-request previews need no
 * builder). Without it, a builder that is down surfaces from the docker-build
 * provider as `rpc error: code = Unavailable … EOF` or `context deadline
 * exceeded`, naming neither the builder, its platform nor its endpoint, and
 * only after other platforms' builds have started.
 */

/** A builder to check, and the platform it builds. */
export interface BuilderTarget {
    /** Platform the builder builds, e.g. `linux/arm64`. Required. */
    readonly platform: string;
    /** buildx builder name. Required. */
    readonly builder: string;
}

/** What the check found for one platform's builder. */
export interface BuilderStatus extends BuilderTarget {
    /** The builder answered and builds this platform. Required. */
    readonly ok: boolean;
    /** First node's endpoint as buildx has it registered (`tcp://host:port`). Default: none when buildx does not know the builder. */
    readonly endpoint?: string;
    /** buildx driver (`remote`, `docker-container`, …). Default: none when buildx does not know the builder. */
    readonly driver?: string;
    /** Why it is not usable. Default: none when `ok`. */
    readonly reason?: string;
}

/** Options of `checkBuilders`. */
export interface PreflightOptions {
    /** The docker CLI. Default: `$IMAGEFLEET_DOCKER`, else `docker`. */
    readonly docker?: string;
    /** Seconds each builder may take to answer. Default: `$IMAGEFLEET_PREFLIGHT_TIMEOUT`, else 30 (buildx itself gives up after 20). */
    readonly timeoutSeconds?: number;
}

interface Ran {
    readonly code: number | null;
    readonly out: string;
    readonly timedOut: boolean;
    readonly missing: boolean;
}

// The probes below run inside a dynamic provider too (BuilderCheck), which
// Pulumi serializes by value: they reach node's modules through `require` in
// their own bodies, never through a module-level import.
/* eslint-disable @typescript-eslint/no-require-imports */

function run(cmd: string, args: readonly string[], timeoutSeconds: number): Promise<Ran> {
    const { spawn } = require("child_process") as typeof import("child_process");
    return new Promise((resolve) => {
        let out = "";
        let timedOut = false;
        const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
        const timer = setTimeout(() => {
            timedOut = true;
            child.kill("SIGKILL");
        }, timeoutSeconds * 1000);
        child.stdout.on("data", (d: Buffer) => (out += d.toString()));
        child.stderr.on("data", (d: Buffer) => (out += d.toString()));
        child.on("error", (err: NodeJS.ErrnoException) => {
            clearTimeout(timer);
            resolve({ code: null, out: String(err), timedOut, missing: err.code === "ENOENT" });
        });
        child.on("close", (code) => {
            clearTimeout(timer);
            resolve({ code, out, timedOut, missing: false });
        });
    });
}

/** `Key: value` of the first node in `docker buildx inspect` output. */
function field(out: string, key: string): string | undefined {
    return new RegExp(`^${key}:\\s*(.+)$`, "m").exec(out)?.[1].trim();
}

/** The line that says why buildx gave up: its last `ERROR:`/`error:` line, else its last line. */
function whyFailed(out: string): string {
    const lines = out.split("\n").map((l) => l.trim()).filter(Boolean);
    const err = [...lines].reverse().find((l) => /^(ERROR|error):/.test(l) || /^#\d+ ERROR:/.test(l));
    return (err ?? lines[lines.length - 1] ?? "no output").replace(/^(#\d+ )?(ERROR|error):\s*/, "");
}

/** A TCP connect, so a refused or filtered port fails in seconds instead of buildx's 20 s wait. */
function tcpProbe(endpoint: string, timeoutSeconds: number): Promise<string | undefined> {
    const m = /^tcp:\/\/\[?([^\]/]+?)\]?:(\d+)\/?$/.exec(endpoint);
    if (!m) {
        return Promise.resolve(undefined);
    }
    const net = require("net") as typeof import("net");
    return new Promise((resolve) => {
        const socket = net.connect({ host: m[1], port: Number(m[2]) });
        const done = (problem?: string) => {
            socket.destroy();
            resolve(problem);
        };
        socket.setTimeout(Math.min(timeoutSeconds, 10) * 1000, () => done("no TCP answer (a firewall, a stopped host, or a wrong address)"));
        socket.once("connect", () => done(undefined));
        socket.once("error", (err: NodeJS.ErrnoException) => done(err.code === "ECONNREFUSED" ? "connection refused (nothing listens there: buildkitd is not running)" : err.message));
    });
}

/** What OpenSSL's verification codes mean for a builder host, in the terms of its buildx registration. */
function tlsReason(err: NodeJS.ErrnoException, opts: Record<string, string>): string {
    const code = err.code ?? "";
    if (["UNABLE_TO_VERIFY_LEAF_SIGNATURE", "UNABLE_TO_GET_ISSUER_CERT_LOCALLY", "UNABLE_TO_GET_ISSUER_CERT", "SELF_SIGNED_CERT_IN_CHAIN", "DEPTH_ZERO_SELF_SIGNED_CERT", "CERT_SIGNATURE_FAILURE"].includes(code)) {
        return `the host's certificate is not signed by the CA buildx trusts for this builder (${opts.cacert}): another host answers there, or the fleet's CA was replaced and this machine's registration is stale (${code})`;
    }
    if (code === "ERR_TLS_CERT_ALTNAME_INVALID") {
        return `the host's certificate does not name ${JSON.stringify(opts.servername)} (the registration's servername): ${err.message}`;
    }
    if (code === "CERT_HAS_EXPIRED" || code === "CERT_NOT_YET_VALID") {
        return `the host's certificate is not valid now (${code}): renew it (pulumi up within 30 days of expiry)`;
    }
    if (code === "HUNG_UP" || /alert|certificate required|bad certificate|unknown ca/i.test(err.message)) {
        return `the host refused this machine's client certificate (${opts.cert}): not from the host's CA, or expired (${err.message.trim()})`;
    }
    return `TLS handshake failed: ${err.message}`;
}

/**
 * A TLS handshake with the registration's own CA, client certificate and
 * server name, so a certificate problem is reported as one (buildx only
 * reports a deadline after retrying it for 20 s).
 */
function tlsProbe(endpoint: string, driverOptions: string | undefined, timeoutSeconds: number): Promise<string | undefined> {
    const m = /^tcp:\/\/\[?([^\]/]+?)\]?:(\d+)\/?$/.exec(endpoint);
    const opts = Object.fromEntries([...(driverOptions ?? "").matchAll(/(\w+)="([^"]*)"/g)].map(([, k, v]) => [k, v]));
    if (!m || !opts.cacert) {
        return Promise.resolve(undefined);
    }
    const fs = require("fs") as typeof import("fs");
    const tls = require("tls") as typeof import("tls");
    let options: tlsTypes.ConnectionOptions;
    try {
        options = {
            host: m[1], port: Number(m[2]), servername: opts.servername || m[1], ALPNProtocols: ["h2"],
            ca: fs.readFileSync(opts.cacert),
            ...(opts.cert && opts.key ? { cert: fs.readFileSync(opts.cert), key: fs.readFileSync(opts.key) } : {}),
        };
    } catch (err) {
        return Promise.resolve(`cannot read the registration's certificate files: ${(err as Error).message}`);
    }
    return new Promise((resolve) => {
        const socket = tls.connect(options);
        const done = (problem?: string) => {
            socket.destroy();
            resolve(problem);
        };
        socket.setTimeout(Math.min(timeoutSeconds, 10) * 1000, () => done("no TLS answer"));
        // TLS 1.3 refuses a client certificate after the handshake: an alert
        // on the first read, or the host just hanging up.
        socket.once("secureConnect", () => {
            setTimeout(() => done(undefined), 500);
            socket.once("close", () => done(tlsReason(Object.assign(new Error("the host closed the connection after the handshake"), { code: "HUNG_UP" }), opts)));
        });
        socket.resume();
        socket.once("error", (err: NodeJS.ErrnoException) => done(tlsReason(err, opts)));
    });
}

/* eslint-enable @typescript-eslint/no-require-imports */

/** One builder, probed the way `checkBuilders` does: registered, reachable, its TLS, and BuildKit answering. */
export async function checkOne(builder: string, docker: string, timeoutSeconds: number): Promise<Omit<BuilderStatus, "platform" | "builder"> & { platforms?: string[]; missingDocker?: boolean }> {
    const registered = await run(docker, ["buildx", "inspect", builder], timeoutSeconds);
    if (registered.missing) {
        return { ok: true, missingDocker: true };
    }
    const endpoint = field(registered.out, "Endpoint");
    const driver = field(registered.out, "Driver");
    if (registered.code !== 0) {
        return { ok: false, reason: `not registered with buildx on this machine (${whyFailed(registered.out)})` };
    }
    if (endpoint) {
        const refused = await tcpProbe(endpoint, timeoutSeconds);
        if (refused) {
            return { ok: false, endpoint, driver, reason: refused };
        }
        const untrusted = await tlsProbe(endpoint, field(registered.out, "Driver Options"), timeoutSeconds);
        if (untrusted) {
            return { ok: false, endpoint, driver, reason: untrusted };
        }
    }
    const booted = await run(docker, ["buildx", "inspect", "--bootstrap", builder], timeoutSeconds);
    const status = field(booted.out, "Status");
    if (booted.timedOut) {
        return { ok: false, endpoint, driver, reason: `no answer within ${timeoutSeconds} s` };
    }
    if (booted.code !== 0 || (status !== undefined && status !== "running")) {
        return { ok: false, endpoint, driver, reason: booted.code !== 0 ? whyFailed(booted.out) : `status ${status}` };
    }
    const platforms = field(booted.out, "Platforms")?.split(",").map((p) => p.trim().replace(/\*$/, "")).filter(Boolean);
    return { ok: true, endpoint, driver, platforms };
}

/**
 * Asks buildx about every builder (each name once, all at the same time):
 * registered on this machine, its endpoint accepting connections, a TLS
 * handshake with the registration's CA and client certificate, and
 * `docker buildx inspect --bootstrap` reaching BuildKit and listing the
 * platform. Never throws; a missing docker CLI makes every
 * builder pass with a warning, since the provider does not need it.
 */
export async function checkBuilders(targets: readonly BuilderTarget[], options: PreflightOptions = {}): Promise<BuilderStatus[]> {
    const docker = options.docker ?? process.env.IMAGEFLEET_DOCKER ?? "docker";
    const timeoutSeconds = options.timeoutSeconds ?? (Number(process.env.IMAGEFLEET_PREFLIGHT_TIMEOUT) || 30);
    const names = [...new Set(targets.map((t) => t.builder))];
    const results = new Map(await Promise.all(names.map(async (n) => [n, await checkOne(n, docker, timeoutSeconds)] as const)));
    if ([...results.values()].some((r) => r.missingDocker)) {
        void pulumi.log.warn(`builder pre-flight skipped: the docker CLI (${docker}) is not installed on this machine`);
    }
    return targets.map((t) => {
        const r = results.get(t.builder)!;
        const serves = !r.ok || !r.platforms || r.platforms.length === 0 || r.platforms.some((p) => p === t.platform || p.startsWith(`${t.platform}/`));
        return {
            platform: t.platform,
            builder: t.builder,
            ok: r.ok && serves,
            endpoint: r.endpoint,
            driver: r.driver,
            reason: r.reason ?? (serves ? undefined : `it builds ${r.platforms!.join(", ")}, not ${t.platform}`),
        };
    });
}

/** One message naming every unusable builder, with its platform, endpoint and what to check. */
export function describeDeadBuilders(subject: string, stack: string, dead: readonly BuilderStatus[], total: number): string {
    const lines = dead.map((d) =>
        `  - ${d.platform}: builder ${JSON.stringify(d.builder)}${d.endpoint ? ` at ${d.endpoint}` : ""}${d.driver ? ` (driver ${d.driver})` : ""}: ${d.reason}`);
    return [
        `${subject} (stack "${stack}"): ${dead.length} of ${total} builder${total === 1 ? "" : "s"} failed the pre-flight check, so none of ${total === 1 ? "its" : "their"} builds ran:`,
        ...lines,
        "Check, for each:",
        "  - buildkitd runs on the host and listens on that endpoint; from this machine `docker buildx inspect --bootstrap <builder>` must print \"Status: running\"",
        "  - this machine reaches the endpoint (allowedCidrs / security group, VPN, a stopped fleet host: see README \"Starting stopped hosts\")",
        "  - the client certificate buildx holds for the builder is from the builder's CA and not expired",
        "  - on the local stack: `bash test/e2e/buildkitd.sh start` starts both builders",
        "Then run `pulumi up` again. IMAGEFLEET_PREFLIGHT=off skips this check.",
    ].join("\n");
}

/**
 * The error of a dead builder of a pool: its builds did not run, the pool's
 * others build theirs, and how to take it out of the pool (the builds that
 * move are its own, each to the builder that scores next for it).
 */
export function describeDeadPoolBuilder(subject: string, stack: string, dead: BuilderStatus, pool: readonly string[], builds: readonly string[]): string {
    const others = pool.filter((b) => b.toLowerCase() !== dead.builder.toLowerCase());
    const shown = builds.length > 8 ? `${builds.slice(0, 8).join(", ")} and ${builds.length - 8} more` : builds.join(", ");
    const rest = others.map((b) => JSON.stringify(b)).join(", ");
    return [
        `${subject} (stack "${stack}"): builder ${JSON.stringify(dead.builder)} of the ${dead.platform} pool failed the pre-flight check, so its ${builds.length} build${builds.length === 1 ? "" : "s"} did not run: ${shown}`,
        `  - ${dead.platform}: builder ${JSON.stringify(dead.builder)}${dead.endpoint ? ` at ${dead.endpoint}` : ""}${dead.driver ? ` (driver ${dead.driver})` : ""}: ${dead.reason}`,
        `The pool's other builder${others.length === 1 ? "" : "s"} (${rest}) build${others.length === 1 ? "s" : ""} the rest of ${dead.platform}: with \`pulumi up --continue-on-error\` they finish in this run.`,
        `Bring ${JSON.stringify(dead.builder)} back, or take it out of the pool: drop it from builders[${JSON.stringify(dead.platform)}]`
            + ` (stack config: imagefleet:builders[${JSON.stringify(dead.platform)}], listing the pool without it).`
            + " Only its builds move, each to another builder of the pool.",
        "Check:",
        "  - buildkitd runs on the host and listens on that endpoint; from this machine `docker buildx inspect --bootstrap <builder>` must print \"Status: running\"",
        "  - this machine reaches the endpoint (allowedCidrs / security group, VPN, a stopped fleet host: see README \"Starting stopped hosts\")",
        "  - on the local stack: `bash test/e2e/buildkitd.sh start` (and `bash test/e2e/buildkitd.sh pool start N` for a pool's other hosts)",
        "Then run `pulumi up` again. IMAGEFLEET_PREFLIGHT=off skips this check.",
    ].join("\n");
}

/** Whether the program runs under `pulumi.runtime.setMocks` (unit tests, synth, bake): there is no builder to ask. */
function mocked(): boolean {
    const monitor = pulumi.runtime.getMonitor() as { mocks?: unknown } | undefined;
    return monitor !== undefined && "mocks" in monitor;
}

/**
 * At the start of `pulumi up`, asks every builder once (every builder of
 * every pool) and warns, naming each one that does not answer (platform,
 * endpoint, reason, what to check). It never fails the update: a commit whose
 * builds are all unchanged needs no builder (a fleet host may be stopped),
 * and a build that does need a dead builder is stopped by that builder's
 * BuilderCheck. Returns, per builder name (lower case), why it is down; the
 * family hands that to the check of a builder whose builds did not all
 * succeed since it last passed (it died mid-build), so the rerun stops there
 * too, naming it, instead of in buildx's 20 s connection deadline. Skipped
 * (nothing down) in preview, under mocks and with `IMAGEFLEET_PREFLIGHT=off`.
 */
export function warnDeadBuilders(
    subject: string,
    targets: readonly { readonly platform: string; readonly builder: pulumi.Input<string> }[],
    options: PreflightOptions = {},
): pulumi.Output<Readonly<Record<string, string>>> {
    if (pulumi.runtime.isDryRun() || mocked() || process.env.IMAGEFLEET_PREFLIGHT === "off") {
        return pulumi.output<Readonly<Record<string, string>>>({});
    }
    return pulumi.all(targets.map((t) => pulumi.output(t.builder))).apply(async (names) => {
        const statuses = await checkBuilders(targets.map((t, i) => ({ platform: t.platform, builder: names[i] })), options);
        const dead = statuses.filter((s) => !s.ok);
        if (dead.length > 0) {
            await pulumi.log.warn(`${describeDeadBuilders(subject, pulumi.getStack(), dead, statuses.length)
                .replace(/, so none of (its|their) builds ran:/, ": builds on them will fail; unchanged builds need no builder:")}`);
        }
        return Object.fromEntries(dead.map((d) => [d.builder.toLowerCase(), d.reason ?? "down"]));
    });
}
