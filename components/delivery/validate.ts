import * as pulumi from "@pulumi/pulumi";
import { Issue, Problems, show } from "../errors";
import { parseIssues } from "../schema";
import { githubDeliveryArgs, promotionArgs, stackImageRefsOptions, stackName } from "./schema";

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** Every problem of GithubDelivery's arguments: the schema, then repeated environments, reviewers of protected ones, and the preview's backend. */
export function deliveryIssues(args: unknown): Issue[] {
    return [...parseIssues(githubDeliveryArgs, args), ...deliveryCrossFieldIssues(args)];
}

/** The rules across GithubDelivery's fields, on whatever part of the arguments is well-formed. */
export function deliveryCrossFieldIssues(args: unknown): Issue[] {
    const issues: Issue[] = [];
    if (!isObject(args)) {
        return issues;
    }
    const protectedEnvs = Array.isArray(args.protectedEnvironments) ? args.protectedEnvironments : ["prod"];
    const environments = Array.isArray(args.environments) ? args.environments : [];
    const names = environments.map((e) => (isObject(e) ? e.name : undefined));
    environments.forEach((env, i) => {
        if (!isObject(env) || typeof env.name !== "string") {
            return;
        }
        if (names.indexOf(env.name) !== i) {
            issues.push({ path: ["environments", i, "name"], message: `${show(env.name)} is listed twice` });
        }
        const r = isObject(env.reviewers) ? env.reviewers : {};
        const ids = [...(Array.isArray(r.users) ? r.users : []), ...(Array.isArray(r.teams) ? r.teams : [])];
        if (ids.length > 6) {
            issues.push({ path: ["environments", i, "reviewers"], message: `GitHub allows at most 6 required reviewers, got ${ids.length}` });
        }
        if (protectedEnvs.includes(env.name) && ids.length === 0) {
            issues.push({ path: ["environments", i, "reviewers"], message: `${show(env.name)} is a protected environment and needs at least one required reviewer` });
        }
    });
    if ((args.preview ?? true) === true && !args.stateBackendUrl) {
        issues.push({ path: ["stateBackendUrl"], message: 'required with the preview role (published as PULUMI_BACKEND_URL), e.g. "s3://my-state-bucket/imagefleet?region=eu-west-1"' });
    }
    return issues;
}

export function validateDelivery(name: string, args: unknown, stack = pulumi.getStack()): void {
    const p = new Problems();
    p.addIssues(deliveryIssues(args));
    p.throwIfAny(`GithubDelivery ${JSON.stringify(name)}`, stack);
}

/** Every problem of Promotion's arguments: the schema, then repeated images and images with no target repository. */
export function promotionIssues(args: unknown): Issue[] {
    const issues = parseIssues(promotionArgs, args);
    if (!isObject(args) || !Array.isArray(args.images)) {
        return issues;
    }
    const keys: string[] = [];
    const repositories = isObject(args.repositories) ? args.repositories : undefined;
    args.images.forEach((img, i) => {
        if (!isObject(img) || typeof img.image !== "string") {
            return;
        }
        const key = typeof img.variant === "string" && img.variant !== "" ? `${img.image}-${img.variant}` : img.image;
        if (keys.includes(key)) {
            issues.push({ path: ["images", i], message: `${show(key)} is listed twice` });
        }
        keys.push(key);
        if (repositories !== undefined && repositories[img.image] === undefined) {
            issues.push({ path: ["repositories"], message: `no target repository for image ${show(img.image)}` });
        }
    });
    return issues;
}

export function validatePromotion(name: string, args: unknown, stack = pulumi.getStack()): void {
    const p = new Problems();
    p.addIssues(promotionIssues(args));
    p.throwIfAny(`Promotion ${JSON.stringify(name)}`, stack);
}

/** StackImageRefs' stack name and options. */
export function validateStackImageRefs(stack: unknown, options: unknown): void {
    const p = new Problems();
    p.addIssues(parseIssues(stackName, stack, ["stack"]));
    p.addIssues(parseIssues(stackImageRefsOptions, options, ["options"]));
    p.throwIfAny(`StackImageRefs ${show(stack)}`, pulumi.getStack());
}
