import * as net from "net";
import { listOf } from "../errors";
import { BuilderFleetArgs, FLEET_PLATFORMS, FleetPlatform } from "./types";

/** EC2's name for a platform's architecture, as the AMI filter wants it. */
export const AMI_ARCHITECTURE: Readonly<Record<FleetPlatform, string>> = {
    "linux/amd64": "x86_64",
    "linux/arm64": "arm64",
};

export const SHORT_ARCH: Readonly<Record<FleetPlatform, string>> = {
    "linux/amd64": "amd64",
    "linux/arm64": "arm64",
};

/**
 * The architecture an instance type runs, from its family name: Graviton
 * families carry a `g` among the attribute letters after the generation
 * (`c7g`, `c7gn`, `m6gd`, `t4g`, `im4gn`, `hpc7g`), plus the first Graviton, `a1`.
 * Undefined when the name is not an EC2 instance type this fleet can run.
 */
export function instanceArchitecture(instanceType: string): FleetPlatform | undefined {
    const m = /^([a-z][a-z0-9-]*)\.([a-z0-9-]+)$/.exec(instanceType);
    if (!m) {
        return undefined;
    }
    const family = m[1];
    if (family === "a1") {
        return "linux/arm64";
    }
    const parts = /^([a-z]+)(\d+)([a-z]*)(-flex)?$/.exec(family);
    if (!parts || parts[1] === "mac") {
        return undefined;
    }
    return parts[3].includes("g") ? "linux/arm64" : "linux/amd64";
}

const PUBLIC_CIDRS = ["0.0.0.0/0", "::/0"];

/** The CIDR's problem, or undefined when it is a valid IPv4/IPv6 CIDR. */
export function cidrProblem(cidr: unknown): string | undefined {
    if (typeof cidr !== "string") {
        return `${JSON.stringify(cidr)} is not a CIDR string`;
    }
    const [ip, bits, extra] = cidr.split("/");
    const version = net.isIP(ip ?? "");
    const max = version === 4 ? 32 : 128;
    if (version === 0 || extra !== undefined || !/^\d{1,3}$/.test(bits ?? "") || Number(bits) > max) {
        return `${JSON.stringify(cidr)} is not a CIDR such as "10.0.0.0/16" or "2001:db8::/32"`;
    }
    return undefined;
}

export function isIpv6Cidr(cidr: string): boolean {
    return cidr.includes(":");
}

const isPositiveInt = (v: unknown, min = 1): boolean => typeof v === "number" && Number.isInteger(v) && v >= min;

/**
 * Every problem with the arguments, one line each, naming the argument
 * (`nodes["linux/arm64"].instanceType`, `allowedCidrs[0]`, …). Callers prefix
 * the lines with where the arguments came from (a component or a config key).
 */
export function fleetProblems(args: BuilderFleetArgs): string[] {
    const p: string[] = [];
    if (args.vpcId === undefined || args.vpcId === "") {
        p.push("vpcId is required (the VPC the hosts run in)");
    }
    if (!Array.isArray(args.subnetIds) || args.subnetIds.length === 0 || args.subnetIds.some((s) => s === "" || s === undefined)) {
        p.push("subnetIds is required: a non-empty list of subnet ids");
    }

    if (!Array.isArray(args.allowedCidrs) || args.allowedCidrs.length === 0) {
        p.push("allowedCidrs is required: the CIDRs of the CI runners or office that may reach BuildKit, e.g. [\"10.0.0.0/16\"]");
    } else {
        args.allowedCidrs.forEach((cidr, i) => {
            const bad = cidrProblem(cidr);
            if (bad) {
                p.push(`allowedCidrs[${i}]: ${bad}`);
            } else if (PUBLIC_CIDRS.includes(cidr) && args.allowPublicIngress !== true) {
                p.push(`allowedCidrs[${i}]: ${JSON.stringify(cidr)} opens BuildKit to the whole internet; list narrower CIDRs or set allowPublicIngress: true`);
            }
        });
    }
    if (args.allowPublicIngress !== undefined && typeof args.allowPublicIngress !== "boolean") {
        p.push(`allowPublicIngress must be true or false, got ${JSON.stringify(args.allowPublicIngress)}`);
    }

    const nodes = args.nodes;
    if (typeof nodes !== "object" || nodes === null || Array.isArray(nodes) || Object.keys(nodes).length === 0) {
        p.push(`nodes is required: hosts per platform, e.g. {"linux/arm64": {"instanceType": "c7g.2xlarge"}}; valid platforms: ${listOf(FLEET_PLATFORMS)}`);
    } else {
        for (const [platform, spec] of Object.entries(nodes)) {
            const at = `nodes[${JSON.stringify(platform)}]`;
            if (!FLEET_PLATFORMS.includes(platform as FleetPlatform)) {
                p.push(`${at}: ${JSON.stringify(platform)} is not a platform EC2 hosts can build natively; valid: ${listOf(FLEET_PLATFORMS)}`);
                continue;
            }
            if (typeof spec !== "object" || spec === null) {
                p.push(`${at} must be an object with an instanceType, got ${JSON.stringify(spec)}`);
                continue;
            }
            const arch = instanceArchitecture(String(spec.instanceType ?? ""));
            const example = platform === "linux/arm64" ? "a Graviton family such as c7g.2xlarge, m7g, c6g or t4g" : "an x86 family such as c7i.2xlarge, c7a, m6i or t3";
            if (typeof spec.instanceType !== "string" || arch === undefined) {
                p.push(`${at}.instanceType: ${JSON.stringify(spec.instanceType)} is not an EC2 instance type; use ${example}`);
            } else if (arch !== platform) {
                p.push(`${at}.instanceType: ${spec.instanceType} is a ${AMI_ARCHITECTURE[arch]} type but the platform is ${platform}; use ${example}`);
            }
            if (spec.count !== undefined && !isPositiveInt(spec.count)) {
                p.push(`${at}.count must be a whole number of at least 1, got ${JSON.stringify(spec.count)}`);
            }
        }
    }

    if (args.spot !== undefined && typeof args.spot !== "boolean") {
        p.push(`spot must be true or false, got ${JSON.stringify(args.spot)}`);
    }
    if (args.cacheVolumeGiB !== undefined && !isPositiveInt(args.cacheVolumeGiB, 20)) {
        p.push(`cacheVolumeGiB must be a whole number of GiB, at least 20, got ${JSON.stringify(args.cacheVolumeGiB)}`);
    }
    const volume = typeof args.cacheVolumeGiB === "number" ? args.cacheVolumeGiB : 100;
    const gc = args.gc ?? {};
    for (const key of ["maxUsedGiB", "minFreeGiB"] as const) {
        const v = gc[key];
        if (v !== undefined && (!isPositiveInt(v) || v >= volume)) {
            p.push(`gc.${key} must be a whole number of GiB below cacheVolumeGiB (${volume}), got ${JSON.stringify(v)}`);
        }
    }
    if (gc.keepDuration !== undefined && !/^\d+(h|m|s)$/.test(String(gc.keepDuration))) {
        p.push(`gc.keepDuration must be a duration such as "168h", got ${JSON.stringify(gc.keepDuration)}`);
    }
    if (args.idleStopMinutes !== undefined && !isPositiveInt(args.idleStopMinutes, 0)) {
        p.push(`idleStopMinutes must be a whole number of minutes (0 never stops), got ${JSON.stringify(args.idleStopMinutes)}`);
    }
    if (args.buildkitVersion !== undefined && !/^v\d+\.\d+\.\d+(-[0-9A-Za-z.]+)?$/.test(String(args.buildkitVersion))) {
        p.push(`buildkitVersion must be a BuildKit release tag such as "v0.34.2", got ${JSON.stringify(args.buildkitVersion)}`);
    }
    if (args.port !== undefined && (!isPositiveInt(args.port, 1) || args.port > 65535)) {
        p.push(`port must be a TCP port (1-65535), got ${JSON.stringify(args.port)}`);
    }
    if (args.certValidityHours !== undefined && !isPositiveInt(args.certValidityHours, 24 * 31)) {
        p.push(`certValidityHours must be whole hours, at least 744 (renewal starts 720 hours before expiry), got ${JSON.stringify(args.certValidityHours)}`);
    }
    if (args.builderNamePrefix !== undefined && !/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(args.builderNamePrefix)) {
        p.push(`builderNamePrefix must be a buildx builder name ([a-zA-Z0-9][a-zA-Z0-9_.-]*), got ${JSON.stringify(args.builderNamePrefix)}`);
    }
    if (args.amis !== undefined) {
        for (const key of Object.keys(args.amis).filter((k) => !FLEET_PLATFORMS.includes(k as FleetPlatform))) {
            p.push(`amis[${JSON.stringify(key)}] is not a platform; valid: ${listOf(FLEET_PLATFORMS)}`);
        }
    }
    return p;
}
