/**
 * How the engine marks a secret inside a property struct (the signature
 * pair of sdk/go/common/resource/sig), as the plugin receives its inputs
 * and as Pulumi's mocks hand them to tests.
 */
export const SIG_KEY = "4dabf18193072939515e22adb298388d";
export const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";

export function isSecret(v: unknown): v is { value: unknown } {
    return typeof v === "object" && v !== null && (v as Record<string, unknown>)[SIG_KEY] === SECRET_SIG;
}

/** The value with every secret marker taken off. */
export function unseal(v: unknown): unknown {
    if (isSecret(v)) {
        return unseal(v.value);
    }
    if (Array.isArray(v)) {
        return v.map(unseal);
    }
    if (typeof v === "object" && v !== null) {
        return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, unseal(x)]));
    }
    return v;
}

/** Whether a secret marker stands anywhere in the value. */
export function holdsSecret(v: unknown): boolean {
    if (isSecret(v)) {
        return true;
    }
    if (typeof v === "object" && v !== null) {
        return Object.values(v).some(holdsSecret);
    }
    return false;
}
