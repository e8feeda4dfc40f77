import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";
import { UsageError } from "./usageError";

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
        throw new UsageError(`no stack ${JSON.stringify(stack)}: ${path.relative(root, file)} does not exist; stacks: ${known.join(", ")}`);
    }
    const doc = (parseYamlFile(file, root) ?? {}) as { config?: Record<string, unknown> };
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

/**
 * A YAML file's content; a syntax error is a UsageError naming the file, the
 * line and the column (`stacks/Pulumi.local.yaml:4:3: …`), as an editor shows them.
 */
export function parseYamlFile(file: string, root = ROOT): unknown {
    const doc = YAML.parseDocument(fs.readFileSync(file, "utf8"), { prettyErrors: true });
    if (doc.errors.length > 0) {
        const lines = doc.errors.map((e) => {
            const pos = e.linePos?.[0];
            return `${path.relative(root, file)}:${pos ? `${pos.line}:${pos.col}` : "?"}: ${e.message.split("\n")[0].replace(/ at line \d+, column \d+:?$/, "")}`;
        });
        throw new UsageError(`invalid YAML:\n${lines.map((l) => `  - ${l}`).join("\n")}`);
    }
    return doc.toJS();
}

/** The `default`s of Pulumi.yaml's typed config, which the engine hands to the program too. */
function projectDefaults(root: string): Record<string, string> {
    const project = (parseYamlFile(path.join(root, "Pulumi.yaml"), root) ?? {}) as { config?: Record<string, unknown> };
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
            throw new UsageError(`--config ${JSON.stringify(o)}: expected key=value, e.g. imagefleet:gitBranch=feature-x`);
        }
        const key = o.slice(0, eq);
        config[key.includes(":") ? key : `${PROJECT}:${key}`] = o.slice(eq + 1);
    }
    return { config, secretKeys: map.secretKeys };
}
