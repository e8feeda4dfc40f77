import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { Problems } from "../errors";
import { PlannedImage } from "./buildPlan";
import { Platform } from "./platforms";
import { ImageFamilyArgs } from "./types";

/** One of BuildKit's Dockerfile check findings for an image, once for all its platforms and variants. */
export interface CheckFinding {
    /** The rule, e.g. `MaintainerDeprecated`. Required. */
    readonly rule: string;
    /** What is wrong, in the rule's words. Required. */
    readonly detail: string;
    /** The rule's documentation (docs.docker.com/go/dockerfile/rule/…). Default: none. */
    readonly url?: string;
    /** The Dockerfile, as the image's spec gives it (`example/runtime.Dockerfile`). Required. */
    readonly dockerfile: string;
    /** 1-based line of the Dockerfile; 0 when the rule names none. Required. */
    readonly line: number;
    /** The platforms it was found on. Required. */
    readonly platforms: readonly Platform[];
}

/** The findings per image key, deduplicated across platforms. */
export function checksOf(args: ImageFamilyArgs, plan: readonly PlannedImage[]): Record<string, CheckFinding[]> {
    if (args.checks === "off") {
        return {};
    }
    const out: Record<string, CheckFinding[]> = {};
    for (const p of plan) {
        const dockerfile = path.join(p.spec.context, p.spec.dockerfile ?? "Dockerfile");
        const found = new Map<string, CheckFinding>();
        for (const platform of p.platforms) {
            for (const w of p.lint[platform]?.warnings ?? []) {
                const key = `${w.ruleName}\0${w.line ?? 0}\0${w.detail}`;
                const before = found.get(key);
                found.set(key, before
                    ? { ...before, platforms: [...before.platforms, platform] }
                    : { rule: w.ruleName ?? "", detail: w.detail ?? "", ...(w.url ? { url: w.url } : {}), dockerfile, line: w.line ?? 0, platforms: [platform] });
            }
        }
        if (found.size > 0) {
            out[p.key] = [...found.values()].sort((a, b) => a.line - b.line || (a.rule < b.rule ? -1 : 1));
        }
    }
    return out;
}

/** `example/runtime.Dockerfile:3: MaintainerDeprecated: … (https://…)`. */
export function findingLine(f: CheckFinding): string {
    return `${f.dockerfile}${f.line > 0 ? `:${f.line}` : ""}: ${f.rule}: ${f.detail}${f.url ? ` (${f.url})` : ""}`;
}

/**
 * With `checks: "error"`, any finding refuses the family before anything is
 * declared (one ValidationError naming each image and rule); with `warn`,
 * each finding is logged on the family when an engine is attached.
 */
export function enforceChecks(resource: pulumi.Resource, name: string, args: ImageFamilyArgs, checks: Readonly<Record<string, readonly CheckFinding[]>>,
    indexOf: (key: string) => number): void {
    const mode = args.checks ?? "warn";
    if (mode === "error") {
        const problems = new Problems();
        for (const [key, findings] of Object.entries(checks)) {
            const i = indexOf(key);
            for (const f of findings) {
                problems.add(`images[${i}] (${JSON.stringify(key)}): Dockerfile check ${findingLine(f)}; fix the Dockerfile, skip the rule with "# check=skip=${f.rule}", or set checks to "warn"`);
            }
        }
        problems.throwIfAny(`ImageFamily ${JSON.stringify(name)}`, pulumi.getStack());
    }
    if (mode === "warn" && pulumi.runtime.getEngine() !== undefined) {
        for (const [key, findings] of Object.entries(checks)) {
            for (const f of findings) {
                void pulumi.log.warn(`${key}: ${findingLine(f)}`, resource);
            }
        }
    }
}
