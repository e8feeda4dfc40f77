import { strict as assert } from "assert";
import * as path from "path";
import { ValidationError } from "../../components/errors";
import { ImageFamily, ImageFamilyArgs, ImageSpec } from "../../components/images";
import { evaluate, Evaluation, Recorded, unwrapSecrets } from "../../scripts/harness/mocks";
import { evaluateStack } from "../../scripts/harness/evaluateStack";

export const FIXTURE = path.join(__dirname, "..", "fixtures", "family");
export const SHA = "0123456789abcdef0123456789abcdef01234567";

export const fixtureImages: ImageSpec[] = [
    { name: "dev-env", kind: "dev-env", context: FIXTURE, dockerfile: "dev-env.Dockerfile" },
    { name: "artifact", kind: "artifact", context: FIXTURE, dockerfile: "artifact.Dockerfile", from: ["dev-env"] },
    { name: "runtime", kind: "runtime", context: FIXTURE, dockerfile: "runtime.Dockerfile", from: ["artifact"] },
];

export function familyArgs(overrides: Partial<ImageFamilyArgs> = {}): ImageFamilyArgs {
    return {
        images: fixtureImages,
        builders: { "linux/amd64": "b-amd64", "linux/arm64": "b-arm64" },
        registry: { address: "registry.test", namespace: "team" },
        git: { branch: "main", sha: SHA },
        ...overrides,
    };
}

/** Declares one family under mocks and returns what it registered. */
export async function declareFamily(args: ImageFamilyArgs, stack = "test"): Promise<{ resources: Recorded[]; family: ImageFamily }> {
    let family: ImageFamily | undefined;
    const { resources } = await evaluate({ stack, program: () => { family = new ImageFamily("fam", args); } });
    return { resources, family: family! };
}

/** The error a family's declaration is rejected with, plus what it declared. */
export async function rejection(args: ImageFamilyArgs, stack = "test"): Promise<Error & { resources: Recorded[] }> {
    try {
        await declareFamily(args, stack);
    } catch (err) {
        return err as Error & { resources: Recorded[] };
    }
    throw new Error("expected the family to be rejected, but it was declared");
}

export const builds = (rs: Recorded[]) => rs.filter((r) => r.type === "docker-build:index:Image");
export const indexes = (rs: Recorded[]) => rs.filter((r) => r.type === "docker-build:index:Index");
export const byName = (rs: Recorded[], name: string): Recorded => {
    const found = rs.find((r) => r.name === name);
    if (!found) {
        throw new Error(`no resource ${name}; have ${rs.map((r) => r.name).join(", ")}`);
    }
    return found;
};
export const plain = (r: Recorded) => unwrapSecrets(r.inputs);

export const GIT_CONFIG = [`imagefleet:gitSha=${SHA}`, "imagefleet:gitBranch=main"];

/** Runs the program (index.ts) with a stack's committed config plus `pulumi config set`-style overrides. */
export function runStack(stack: string, overrides: readonly string[] = [], secrets: Record<string, string> = {}): Promise<Evaluation> {
    return evaluateStack(stack, { overrides: [...GIT_CONFIG, ...overrides], secrets });
}

/** The ValidationError a stack's config is rejected with, plus what was declared before it. */
export async function stackConfigError(stack: string, overrides: readonly string[]): Promise<ValidationError & { resources: Recorded[] }> {
    try {
        await runStack(stack, overrides);
    } catch (err) {
        assert.ok(err instanceof ValidationError, `expected a ValidationError, got ${String(err)}`);
        return err as ValidationError & { resources: Recorded[] };
    }
    throw new Error("expected the stack config to be rejected");
}

/** Asserts that a message contains every part, showing the whole message when one is missing. */
export function assertMentions(message: string, parts: readonly string[]): void {
    for (const part of parts) {
        assert.ok(message.includes(part), `missing ${JSON.stringify(part)} in\n${message}`);
    }
}
