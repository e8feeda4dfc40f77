import { FromSource, ImageSpec } from "./types";

/** A named context of an image, normalised. */
export interface Dependency {
    /** The context name the Dockerfile uses (`FROM <name>`, `COPY --from=<name>`). */
    readonly context: string;
    /** Another image of the family, or undefined for a local directory. */
    readonly image?: string;
    /** A local directory, or undefined for an image. */
    readonly local?: string;
}

export function dependenciesOf(spec: ImageSpec): Dependency[] {
    const from = spec.from;
    if (from === undefined) {
        return [];
    }
    if (Array.isArray(from)) {
        return (from as readonly string[]).map((name) => ({ context: name, image: name }));
    }
    return Object.entries(from as Record<string, FromSource>).map(([context, source]) => {
        if (typeof source === "string") {
            return { context, image: source };
        }
        return "local" in source ? { context, local: source.local } : { context, image: source.image };
    });
}

/**
 * Orders images so every image comes after the images it takes contexts from.
 * Returns the cycle (as a path of names) instead when there is one.
 */
export function topoOrder(images: readonly ImageSpec[]): { order: string[] } | { cycle: string[] } {
    const byName = new Map(images.map((i) => [i.name, i]));
    const state = new Map<string, "visiting" | "done">();
    const order: string[] = [];
    const stack: string[] = [];

    const visit = (name: string): string[] | undefined => {
        const seen = state.get(name);
        if (seen === "done") {
            return undefined;
        }
        if (seen === "visiting") {
            return [...stack.slice(stack.indexOf(name)), name];
        }
        state.set(name, "visiting");
        stack.push(name);
        for (const dep of dependenciesOf(byName.get(name)!)) {
            if (dep.image !== undefined && byName.has(dep.image)) {
                const cycle = visit(dep.image);
                if (cycle) {
                    return cycle;
                }
            }
        }
        stack.pop();
        state.set(name, "done");
        order.push(name);
        return undefined;
    };

    for (const image of images) {
        const cycle = visit(image.name);
        if (cycle) {
            return { cycle };
        }
    }
    return { order };
}
