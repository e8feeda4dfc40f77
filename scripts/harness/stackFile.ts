import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";

export const PROJECT = "imagefleet";
export const ROOT = path.resolve(__dirname, "..", "..");

export interface StackConfigMap {
    /** `namespace:key` → value as `pulumi config` stores it (objects as JSON). */
    readonly config: Record<string, string>;
    readonly secretKeys: string[];
}

/**
 * Reads `stacks/Pulumi.<stack>.yaml` the way the engine hands config to a
 * program. Encrypted values cannot be read without the stack's secrets
 * provider; they become the placeholder `[secret]` and stay marked secret.
 */
export function readStackConfig(stack: string, root = ROOT): StackConfigMap {
    const file = path.join(root, "stacks", `Pulumi.${stack}.yaml`);
    if (!fs.existsSync(file)) {
        const known = fs.readdirSync(path.join(root, "stacks"))
            .map((f) => /^Pulumi\.(.+)\.yaml$/.exec(f)?.[1])
            .filter(Boolean);
        throw new Error(`no stack ${JSON.stringify(stack)}: ${file} does not exist; stacks: ${known.join(", ")}`);
    }
    const doc = YAML.parse(fs.readFileSync(file, "utf8")) ?? {};
    const config: Record<string, string> = projectDefaults(root);
    const secretKeys: string[] = [];
    for (const [key, value] of Object.entries<any>(doc.config ?? {})) {
        const full = key.includes(":") ? key : `${PROJECT}:${key}`;
        if (value && typeof value === "object" && "secure" in value) {
            config[full] = "[secret]";
            secretKeys.push(full);
        } else {
            config[full] = typeof value === "string" ? value : JSON.stringify(value);
        }
    }
    return { config, secretKeys };
}

/** The `default`s of Pulumi.yaml's typed config, which the engine hands to the program too. */
function projectDefaults(root: string): Record<string, string> {
    const project = YAML.parse(fs.readFileSync(path.join(root, "Pulumi.yaml"), "utf8")) ?? {};
    const defaults: Record<string, string> = {};
    for (const [key, spec] of Object.entries<any>(project.config ?? {})) {
        if (spec && typeof spec === "object" && "default" in spec) {
            defaults[`${PROJECT}:${key}`] = typeof spec.default === "string" ? spec.default : JSON.stringify(spec.default);
        }
    }
    return defaults;
}

/** Applies `key=value` overrides the way `pulumi config set key value` would. */
export function applyOverrides(map: StackConfigMap, overrides: readonly string[]): StackConfigMap {
    const config = { ...map.config };
    for (const o of overrides) {
        const eq = o.indexOf("=");
        if (eq <= 0) {
            throw new Error(`--config ${JSON.stringify(o)}: expected key=value, e.g. imagefleet:gitBranch=feature-x`);
        }
        const key = o.slice(0, eq);
        config[key.includes(":") ? key : `${PROJECT}:${key}`] = o.slice(eq + 1);
    }
    return { config, secretKeys: map.secretKeys };
}
