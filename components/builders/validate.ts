import * as pulumi from "@pulumi/pulumi";
import { Issue, issueLine, Problems, show } from "../errors";
import { parseIssues } from "../schema";
import { builderFleetArgs, buildxRegistrationArgs, cidrProblem } from "./schema";
import { BuilderFleetArgs, DEFAULTS, FleetPlatform } from "./types";

export { cidrProblem };

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

export function isIpv6Cidr(cidr: string): boolean {
    return cidr.includes(":");
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** Rules across fields; each runs on whatever part of the arguments is well-formed, so one error lists every problem. */
export function fleetCrossFieldIssues(args: unknown): Issue[] {
    const issues: Issue[] = [];
    if (!isObject(args)) {
        return issues;
    }
    const a = args as Partial<Record<keyof BuilderFleetArgs, unknown>>;
    if (Array.isArray(a.allowedCidrs)) {
        a.allowedCidrs.forEach((cidr, i) => {
            if (typeof cidr === "string" && PUBLIC_CIDRS.includes(cidr) && a.allowPublicIngress !== true) {
                issues.push({ path: ["allowedCidrs", i], message: `${show(cidr)} opens BuildKit to the whole internet; list narrower CIDRs or set allowPublicIngress: true` });
            }
        });
    }
    for (const [platform, spec] of isObject(a.nodes) ? Object.entries(a.nodes) : []) {
        if (!(platform in AMI_ARCHITECTURE) || !isObject(spec) || typeof spec.instanceType !== "string" || spec.instanceType === "") {
            continue;
        }
        const arch = instanceArchitecture(spec.instanceType);
        const example = platform === "linux/arm64" ? "a Graviton family such as c7g.2xlarge, m7g, c6g or t4g" : "an x86 family such as c7i.2xlarge, c7a, m6i or t3";
        const at = ["nodes", platform, "instanceType"];
        if (arch === undefined) {
            issues.push({ path: at, message: `${show(spec.instanceType)} is not an EC2 instance type; use ${example}` });
        } else if (arch !== platform) {
            issues.push({ path: at, message: `${spec.instanceType} is a ${AMI_ARCHITECTURE[arch]} type but the platform is ${platform}; use ${example}` });
        }
    }
    const platforms = isObject(a.nodes) ? Object.keys(a.nodes).filter((p) => p in AMI_ARCHITECTURE) : [];
    const releaseUrls: [string[], unknown][] = [[["buildkitReleaseUrl"], a.buildkitReleaseUrl], [["attestor", "releaseUrl"], isObject(a.attestor) ? a.attestor.releaseUrl : undefined]];
    for (const [path, url] of releaseUrls) {
        if (typeof url === "string" && !url.includes("{arch}") && platforms.length > 1) {
            issues.push({
                path,
                message: `has no {arch}, so the ${platforms.join(" and ")} hosts would install the same tarball; put {arch} where the file name says amd64 or arm64`,
            });
        }
    }
    const volume = a.cacheVolumeGiB === undefined ? DEFAULTS.cacheVolumeGiB : a.cacheVolumeGiB;
    for (const key of ["maxUsedGiB", "minFreeGiB"] as const) {
        const v = isObject(a.gc) ? a.gc[key] : undefined;
        if (typeof v === "number" && typeof volume === "number" && v >= volume) {
            issues.push({ path: ["gc", key], message: `must be below cacheVolumeGiB (${volume}), got ${v}` });
        }
    }
    return issues;
}

/**
 * Every problem with the arguments, each with its path (`nodes["linux/arm64"].instanceType`,
 * `allowedCidrs[0]`, …): the schema first, then the rules across fields.
 */
export function fleetIssues(args: unknown): Issue[] {
    return [...parseIssues(builderFleetArgs, args), ...fleetCrossFieldIssues(args)];
}

/** `fleetIssues` as lines, for callers that prefix them with where the arguments came from. */
export function fleetProblems(args: BuilderFleetArgs): string[] {
    return fleetIssues(args).map((i) => issueLine(i));
}

/** Throws one ValidationError naming each bad argument of a BuildxRegistration. */
export function validateRegistration(name: string, args: unknown, stack = pulumi.getStack()): void {
    const p = new Problems();
    p.addIssues(parseIssues(buildxRegistrationArgs, args));
    p.throwIfAny(`BuildxRegistration ${JSON.stringify(name)}`, stack);
}
