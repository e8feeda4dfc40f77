import * as pulumi from "@pulumi/pulumi";

/**
 * The base of imagefleet's own resources (TagSet, BuilderCheck, the
 * attestations, ...), each behaviour one provider object that implements
 * create, diff, update and delete.
 *
 * Inside imagefleet's provider plugin (`pulumi-resource-imagefleet`, which
 * hosts the components for YAML, Python and Go programs) they register as
 * that plugin's custom resources, `imagefleet:<module>:<Type>`, whose CRUD
 * calls the same provider object (components/provider/provider.ts). A dynamic
 * resource cannot run there: its helper process resolves `@pulumi/pulumi`
 * from the consuming program's folder, which a YAML, Python or Go program
 * does not have (pulumi/pulumi#5455).
 *
 * In a TypeScript program they are still dynamic resources,
 * `pulumi-nodejs:dynamic/<module>:<Type>`, exactly as `pulumi.dynamic.Resource`
 * registers them, so stacks made before the plugin keep their state
 * unchanged; moving those stacks onto the plugin needs the plugin installed
 * beside every TypeScript program first.
 */

let hosted = false;

/** Called by the provider plugin before any component is constructed (and by tests, to switch back). */
export function registerAsProviderResources(on = true): void {
    hosted = on;
}

/** The package's name in type tokens (`imagefleet:<module>:<Type>`) and plugin names. */
export const PACKAGE = "imagefleet";

/** `imagefleet:<module>:<Type>`: the plugin's type token of a resource or component. */
export function providerToken(module: string, type: string): string {
    return `${PACKAGE}:${module}:${type}`;
}

// What pulumi.dynamic.Resource stores in `__provider`: the provider object
// serialized once per object, secret when the closure captured a secret.
const serialized = new WeakMap<object, pulumi.Output<string>>();

function serializedProvider(provider: pulumi.dynamic.ResourceProvider): pulumi.Output<string> {
    let out = serialized.get(provider);
    if (out === undefined) {
        const sf = pulumi.runtime.serializeFunction(() => provider, { allowSecrets: true });
        const text = pulumi.output(sf.then((s) => s.text));
        out = pulumi.output(sf.then((s) => s.containsSecrets)).apply((secret) => (secret ? pulumi.secret(text) : text));
        serialized.set(provider, out);
    }
    return out;
}

/** One of imagefleet's own resources: the plugin's custom resource inside the plugin, a dynamic resource elsewhere. */
export class FleetResource extends pulumi.CustomResource {
    constructor(provider: pulumi.dynamic.ResourceProvider, name: string, props: pulumi.Inputs,
        opts: pulumi.CustomResourceOptions | undefined, module: string, type: string) {
        if ("__provider" in props) {
            throw new Error(`${module}:${type} ${name}: __provider is reserved`);
        }
        const dynamic = `pulumi-nodejs:dynamic/${module}:${type}`;
        if (hosted) {
            // A stack whose resource was dynamic keeps it: the type token moves, the provider changes
            // from the default pulumi-nodejs to the default imagefleet, which the engine does not take
            // for a replacement (its DiffConfig does not ask for one).
            super(providerToken(module, type), name, props, { ...opts, aliases: [...(opts?.aliases ?? []), { type: dynamic }] });
        } else {
            super(dynamic, name, { ...props, __provider: serializedProvider(provider) }, opts);
        }
    }
}
