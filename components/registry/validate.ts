import * as pulumi from "@pulumi/pulumi";
import { Issue, Problems, show } from "../errors";
import { parseIssues } from "../schema";
import { ecrRegistryArgs, ghcrRegistryArgs } from "./schema";

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** Every problem of EcrRegistry's arguments: the schema, then repeated names, a repository two images would share, and a key without KMS. */
export function ecrRegistryIssues(args: unknown): Issue[] {
    return [...parseIssues(ecrRegistryArgs, args), ...ecrCrossFieldIssues(args)];
}

/** The rules across EcrRegistry's fields, on whatever part of the arguments is well-formed. */
export function ecrCrossFieldIssues(args: unknown): Issue[] {
    const issues: Issue[] = [];
    if (!isObject(args)) {
        return issues;
    }
    const images = Array.isArray(args.images) ? args.images : [];
    images.forEach((image, i) => {
        if (typeof image !== "string") {
            return;
        }
        if (images.indexOf(image) !== i) {
            issues.push({ path: ["images", i], message: `${show(image)} is listed twice` });
        } else if (image.endsWith("-cache") && images.includes(image.slice(0, -"-cache".length))) {
            issues.push({ path: ["images", i], message: `${show(image)} would get the repository of image ${show(image.slice(0, -"-cache".length))}'s cache; rename it` });
        }
    });
    if (args.kmsKey !== undefined && args.encryption !== "KMS") {
        issues.push({ path: ["kmsKey"], message: `only used with encryption "KMS" (encryption is ${show(args.encryption ?? "AES256")})` });
    }
    return issues;
}

export function validateEcrRegistry(name: string, args: unknown, stack = pulumi.getStack()): void {
    const p = new Problems();
    p.addIssues(ecrRegistryIssues(args));
    p.throwIfAny(`EcrRegistry ${JSON.stringify(name)}`, stack);
}

export function validateGhcrRegistry(args: unknown, stack = pulumi.getStack()): void {
    const p = new Problems();
    p.addIssues(parseIssues(ghcrRegistryArgs, args));
    p.throwIfAny("GHCR registry", stack);
}
