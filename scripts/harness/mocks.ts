import * as crypto from "crypto";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { isSecret, unseal } from "../../components/provider/secrets";
import { answerCall, CallHandler, DEFAULT_CALLS, defaultStackOutputs, RESOURCE_STATES } from "./calls";


export interface Recorded {
    readonly type: string;
    readonly name: string;
    /** Name of the parent resource; undefined for the stack's direct children. */
    parent?: string;
    readonly custom: boolean;
    /** Inputs as the program declared them; secrets keep Pulumi's wrapper (see `isSecret`). */
    readonly inputs: Record<string, any>;
    /** What the mock provider answered (e.g. an image's digest and ref). */
    readonly state: Record<string, any>;
    /** What a component registered as its outputs (`registerOutputs`); undefined for custom resources. */
    outputs?: Record<string, any>;
    /** Resource options that never reach a mock provider but decide what a delete does. */
    options: ResourceOptionsSeen;
    urn?: string;
}

export interface ResourceOptionsSeen {
    readonly protect?: boolean;
    readonly retainOnDelete?: boolean;
    /** Names of the resources it was declared to depend on (`dependsOn`). */
    readonly dependsOn?: readonly string[];
}

export interface EvaluateOptions {
    /** Stack name. */
    readonly stack: string;
    /** Config as `pulumi config` holds it: `{"imagefleet:platforms": "[\"linux/amd64\"]"}`. */
    readonly config?: Record<string, string>;
    readonly secretKeys?: readonly string[];
    /** Path of the program module, or a function declaring resources. */
    readonly program: string | (() => unknown);
    readonly project?: string;
    readonly preview?: boolean;
    readonly calls?: Record<string, CallHandler>;
    /** Outputs per stack name for StackReferences. Default: `defaultStackOutputs` (calls.ts). */
    readonly stackOutputs?: Record<string, Record<string, any>>;
    /**
     * What the provider of a resource type answers, in place of the mock's
     * echo of the inputs: e.g. real certificates for @pulumi/tls resources
     * (the boot test). Default: none.
     */
    readonly states?: Record<string, (name: string, inputs: Record<string, any>) => Record<string, any>>;
}

export interface Evaluation {
    readonly resources: Recorded[];
    readonly outputs: Record<string, any>;
}

/** Whether Pulumi wrapped the value as a secret (the signature it carries across the RPC boundary). */
export { isSecret };

/** Replaces every secret with `"[secret]"`, for printing. */
export function maskSecrets(value: any): any {
    if (isSecret(value)) {
        return "[secret]";
    }
    if (Array.isArray(value)) {
        return value.map(maskSecrets);
    }
    if (typeof value === "object" && value !== null) {
        return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, maskSecrets(v)]));
    }
    return value;
}

/** Removes Pulumi's secret wrapper, for assertions on the plaintext (the provider plugin's own unwrapping). */
export const unwrapSecrets = unseal as (value: any) => any;

function fakeDigest(...parts: string[]): string {
    return "sha256:" + crypto.createHash("sha256").update(parts.join("\0")).digest("hex");
}

/** Outputs a provider would compute, so downstream interpolations resolve. */
function mockState(type: string, name: string, inputs: Record<string, any>, stackOutputs?: Record<string, Record<string, any>>): Record<string, any> {
    const plain = unwrapSecrets(inputs);
    switch (type) {
        case "pulumi:pulumi:StackReference":
            return { name: plain.name, outputs: stackOutputs?.[plain.name] ?? defaultStackOutputs(plain.name), secretOutputNames: [] };
        case "docker-build:index:Image": {
            const digest = fakeDigest(name, JSON.stringify(plain.tags ?? []), JSON.stringify(plain.buildArgs ?? {}));
            const tag = plain.tags?.[0];
            return { ...inputs, digest, ref: tag ? `${tag}@${digest}` : "", contextHash: fakeDigest("context", name) };
        }
        case "docker-build:index:Index": {
            const digest = fakeDigest(name, plain.tag ?? "", JSON.stringify(plain.sources ?? []));
            return { ...inputs, ref: `${plain.tag}@${digest}` };
        }
        default:
            return { ...inputs, arn: inputs.arn ?? `arn:aws:mock:::${type}/${name}`, ...RESOURCE_STATES[type]?.(name, plain) };
    }
}

let running = false;

/**
 * Evaluates a Pulumi program under mocks and returns every resource it
 * declared, with parents. No engine, no credentials, no network.
 */
export async function evaluate(options: EvaluateOptions): Promise<Evaluation> {
    if (running) {
        throw new Error("evaluate() is not re-entrant: await the previous evaluation first");
    }
    running = true;
    try {
        const project = options.project ?? "imagefleet";
        const calls = { ...DEFAULT_CALLS, ...options.calls };
        const resources: Recorded[] = [];
        const parents = new Map<Recorded, string>();
        const byUrn = new Map<string, Recorded>();

        pulumi.runtime.setAllConfig({}, []);
        await pulumi.runtime.setMocks({
            newResource: (args) => {
                const own = options.states?.[args.type];
                const state = args.custom === false ? {}
                    : own ? { ...args.inputs, ...own(args.name, unwrapSecrets(args.inputs)) }
                    : mockState(args.type, args.name, args.inputs, options.stackOutputs);
                resources.push({ type: args.type, name: args.name, custom: args.custom ?? true, inputs: args.inputs, state, options: {} });
                return { id: args.custom === false ? undefined : `${args.name}-id`, state };
            },
            call: (args) => answerCall(calls, args),
        }, project, options.stack, options.preview ?? false, "organization");
        pulumi.runtime.setAllConfig(options.config ?? {}, [...(options.secretKeys ?? [])]);

        // The mocks API does not pass the parent to newResource; read it off the request.
        const monitor = pulumi.runtime.getMonitor() as any;
        const register = monitor.registerResource.bind(monitor);
        monitor.registerResource = (req: any, callback: (err: any, res: any) => void) => {
            const count = resources.length;
            return register(req, (err: any, res: any) => {
                const rec = resources.slice(count).find((r) => r.name === req.getName() && r.type === req.getType());
                if (rec && res) {
                    rec.urn = res.getUrn();
                    byUrn.set(rec.urn!, rec);
                    if (req.getParent()) {
                        parents.set(rec, req.getParent());
                    }
                }
                callback(err, res);
            });
        };

        // A component's outputs (e.g. ImageFamily's context reports) never reach newResource.
        const registerOutputs = monitor.registerResourceOutputs.bind(monitor);
        monitor.registerResourceOutputs = (req: any, callback: (err: any, res: any) => void) => {
            const rec = byUrn.get(req.getUrn());
            if (rec && !rec.custom) {
                rec.outputs = req.getOutputs()?.toJavaScript();
            }
            return registerOutputs(req, callback);
        };

        // Pulumi records a stack trace for every promise and resource, and
        // formatting them (source-mapped under ts-node) was most of the time
        // spent evaluating. IMAGEFLEET_STACK_TRACES=1 keeps them for debugging.
        const { prepareStackTrace, stackTraceLimit } = Error;
        if (!process.env.IMAGEFLEET_STACK_TRACES) {
            (Error as { prepareStackTrace?: unknown }).prepareStackTrace = undefined;
            Error.stackTraceLimit = 0;
        }
        const restore = () => {
            Error.prepareStackTrace = prepareStackTrace;
            Error.stackTraceLimit = stackTraceLimit;
        };
        let outputs: Record<string, any> = {};
        const stackType = "pulumi:pulumi:Stack";
        const seenOptions = new Map<string, ResourceOptionsSeen>();
        const declared = () => {
            const rs = resources.filter((r) => r.type !== stackType);
            rs.forEach((r) => (r.options = seenOptions.get(`${r.type} ${r.name}`) ?? {}));
            return rs;
        };
        try {
            await pulumi.runtime.runInPulumiStack(async () => {
            // The SDK applies stack transformations as each resource is built,
            // so they see the options the mock monitor is never sent.
            pulumi.runtime.registerStackTransformation((t) => {
                const deps = t.opts.dependsOn === undefined ? undefined : ([] as unknown[]).concat(t.opts.dependsOn);
                seenOptions.set(`${t.type} ${t.name}`, {
                    protect: t.opts.protect,
                    retainOnDelete: t.opts.retainOnDelete,
                    // The SDK keeps each resource's name in `__name`.
                    dependsOn: deps?.map((d) => String((d as { __name?: string }).__name)),
                });
                return undefined;
            });
            if (typeof options.program === "function") {
                return options.program();
            }
            const file = path.resolve(options.program);
            // Only the program runs again; the components it imports keep no
            // state, and reloading them would break `instanceof` on their errors.
            delete require.cache[require.resolve(file)];
            const mod = require(file);
            outputs = mod;
            return mod;
            });
        } catch (err) {
            restore();
            // Tests assert that a rejected program declared nothing.
            await pulumi.runtime.disconnect().catch(() => undefined);
            if (typeof err === "object" && err !== null) {
                (err as any).resources = declared();
            }
            throw err;
        }
        await pulumi.runtime.disconnect();
        restore();
        for (const [rec, parentUrn] of parents) {
            const parent = byUrn.get(parentUrn);
            rec.parent = parent && parent.type !== stackType ? parent.name : undefined;
        }
        return { resources: declared(), outputs };
    } finally {
        running = false;
    }
}
