import { CheckFinding, findingLine } from "../../components/images/checks";
import { contextLine, ContextReport } from "../../components/images/contexts/report";
import { maskSecrets, Recorded } from "./mocks";

/** `--json`: every resource with masked inputs, and a component's registered outputs (an ImageFamily's `contexts`). */
export function toJson(resources: readonly Recorded[]): string {
    return JSON.stringify(resources.map((r) => ({
        type: r.type,
        name: r.name,
        parent: r.parent ?? null,
        inputs: withoutProviderCode(maskSecrets(r.inputs)),
        ...(r.outputs !== undefined ? { outputs: maskSecrets(r.outputs) } : {}),
    })), null, 2);
}

/** The context reports an ImageFamily registered, by image name. */
function contextsOf(r: Recorded | undefined): Record<string, ContextReport> {
    return r?.type === "imagefleet:images:ImageFamily" ? r.outputs?.contexts ?? {} : {};
}

/**
 * Lines a resource adds below itself: an image build's context, and a
 * family's context warnings (once per context, however many images share it).
 */
function detailLines(r: Recorded, byName: ReadonlyMap<string, Recorded>): string[] {
    if (r.type === "docker-build:index:Image") {
        const family = byName.get(r.parent ?? "");
        const image = r.inputs.labels?.["dev.imagefleet.image"];
        const variant = r.inputs.labels?.["dev.imagefleet.variant"];
        const report = contextsOf(family)[image];
        const platform = r.inputs.platforms?.[0];
        const checks = ((family?.outputs?.checks ?? {})[variant ? `${image}-${variant}` : image] ?? []) as CheckFinding[];
        return [...(report ? [contextLine(report)] : []), ...checks.filter((c) => c.platforms.includes(platform)).map((c) => `check: ${findingLine(c)}`)];
    }
    const warnings = Object.values(contextsOf(r)).flatMap((c) => c.warnings);
    return [...new Set(warnings)].map((w) => `warning: ${w}`);
}

/** A dynamic resource's `__provider` is its provider's serialized code: show its size, not the code. */
function withoutProviderCode(inputs: Record<string, any>): Record<string, any> {
    const code = inputs?.__provider;
    return typeof code === "string" ? { ...inputs, __provider: `[dynamic provider code, ${code.length} characters]` } : inputs;
}

function summary(r: Recorded): string {
    const i = maskSecrets(r.inputs);
    switch (r.type) {
        case "docker-build:index:Image":
            return `${i.platforms?.join(",")} on ${i.builder?.name} -> ${i.tags?.join(", ")}`;
        case "docker-build:index:Index":
            return `${i.tag} <- ${i.sources?.length} sources`;
        default:
            return "";
    }
}

/** The default output: resources as a tree under their parents. */
export function toTree(resources: readonly Recorded[]): string {
    const children = new Map<string | undefined, Recorded[]>();
    for (const r of resources) {
        children.set(r.parent, [...(children.get(r.parent) ?? []), r]);
    }
    const byName = new Map(resources.map((r) => [r.name, r]));
    const lines: string[] = [];
    const walk = (parent: string | undefined, depth: number) => {
        for (const r of children.get(parent) ?? []) {
            const s = summary(r);
            lines.push(`${"  ".repeat(depth)}${r.name}  [${r.type}]${s ? `  ${s}` : ""}`);
            lines.push(...detailLines(r, byName).map((l) => `${"  ".repeat(depth + 1)}${l}`));
            walk(r.name, depth + 1);
        }
    };
    walk(undefined, 0);
    lines.push("", `${resources.length} resources`);
    return lines.join("\n");
}

/**
 * `--graph`: the image graph as Mermaid, derived from the declared builds: an
 * edge per named context that pins another image's digest.
 */
export function toMermaid(resources: readonly Recorded[]): string {
    const builds = resources.filter((r) => r.type === "docker-build:index:Image");
    const nodeOf = (r: Recorded) => {
        const l = r.inputs.labels ?? {};
        const variant = l["dev.imagefleet.variant"];
        return { id: `${l["dev.imagefleet.image"]}${variant ? `-${variant}` : ""}`, kind: String(l["dev.imagefleet.kind"]) };
    };
    const nodes = new Map<string, { kind: string; platforms: Set<string> }>();
    const edges = new Set<string>();
    for (const b of builds) {
        const n = nodeOf(b);
        const entry = nodes.get(n.id) ?? { kind: n.kind, platforms: new Set<string>() };
        (b.inputs.platforms ?? []).forEach((p: string) => entry.platforms.add(p));
        nodes.set(n.id, entry);
        for (const [ctx, value] of Object.entries<any>(b.inputs.context?.named ?? {})) {
            const loc = String(value.location ?? "");
            const dep = builds.find((d) => d.state.digest && loc.endsWith(`@${d.state.digest}`));
            if (dep) {
                edges.add(`  ${safe(nodeOf(dep).id)} -->|${ctx}| ${safe(n.id)}`);
            } else {
                edges.add(`  local_${safe(ctx)}[/"${loc}"/] -->|${ctx}| ${safe(n.id)}`);
            }
        }
    }
    const lines = ["flowchart LR"];
    for (const [id, n] of nodes) {
        lines.push(`  ${safe(id)}["${id}<br/><i>${n.kind}</i><br/>${[...n.platforms].join(" · ")}"]`);
    }
    lines.push(...[...edges].sort());
    return lines.join("\n");
}

function safe(id: string): string {
    return id.replace(/[^A-Za-z0-9_]/g, "_");
}
