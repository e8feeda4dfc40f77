import * as pulumi from "@pulumi/pulumi";
import { FleetResource } from "../fleetResource";
import { Problems } from "../errors";
import { parseIssues } from "../schema";
import { kubernetesBuilderArgs } from "./schema";
import type { KubernetesBuilderArgs, PodResources } from "./types";

/**
 * A buildx builder made with the kubernetes driver: BuildKit in one pod of a
 * Deployment named after the builder, which buildx creates on first use
 * through the cluster's API (the machine's kubeconfig). One replica only:
 * buildx picks a builder's pod once per client (docker/buildx,
 * driver/manager.go), and the docker-build provider is one client per
 * builder for the whole `pulumi up`, so a second replica would never get a
 * build from it. Several such builders in a family's pool do: each build
 * goes to one of them by hashing, and each pod keeps its own cache warm.
 */

/** What the provider works with once every input is known. */
export interface KubernetesBuilderState {
    readonly builderName: string;
    readonly platform: string;
    readonly namespace?: string;
    readonly nodeSelector?: Readonly<Record<string, string>>;
    readonly requests?: PodResources;
    readonly limits?: PodResources;
    readonly image?: string;
    readonly rootless?: boolean;
}

// Everything below runs inside the dynamic provider, which Pulumi serializes:
// it may use only its arguments and modules it requires itself.

/**
 * The `docker buildx create` arguments for the builder. Every option is a
 * `--driver-opt` of its own; buildx reads each as CSV, so a value holding a
 * comma (several node labels) is quoted.
 */
export function kubernetesCreateArgs(s: KubernetesBuilderState): string[] {
    const arch = s.platform.split("/")[1];
    const selector = s.nodeSelector ?? { "kubernetes.io/arch": arch };
    const opts: [string, string | undefined][] = [
        ["namespace", s.namespace],
        ["replicas", "1"],
        ["nodeselector", Object.entries(selector).map(([k, v]) => `${k}=${v}`).join(",") || undefined],
        ["requests.cpu", s.requests?.cpu],
        ["requests.memory", s.requests?.memory],
        ["limits.cpu", s.limits?.cpu],
        ["limits.memory", s.limits?.memory],
        ["image", s.image],
        ["rootless", s.rootless === undefined ? undefined : String(s.rootless)],
    ];
    const driverOpts = opts.filter(([, v]) => v !== undefined && v !== "").flatMap(([k, v]) => {
        const opt = `${k}=${v}`;
        return ["--driver-opt", opt.includes(",") ? `"${opt}"` : opt];
    });
    // The node is named after the builder: the kubernetes driver names the Deployment after the node.
    return ["buildx", "create", "--name", s.builderName, "--node", s.builderName, "--driver", "kubernetes", ...driverOpts, "--platform", s.platform];
}

function docker(args: string[], allowFailure = false): void {
    const r = require("child_process").spawnSync(process.env.IMAGEFLEET_DOCKER || "docker", args, { encoding: "utf8", timeout: 120_000 });
    if (r.status !== 0 && !allowFailure) {
        throw new Error(`docker ${args.join(" ")} failed (exit ${r.status}): ${`${r.stdout ?? ""}${r.stderr ?? ""}${r.error ?? ""}`.trim()}`);
    }
}

function isRegistered(name: string): boolean {
    const path = require("path");
    const dir = process.env.BUILDX_CONFIG
        || path.join(process.env.DOCKER_CONFIG || path.join(require("os").homedir(), ".docker"), "buildx");
    return require("fs").existsSync(path.join(dir, "instances", name));
}

function register(s: KubernetesBuilderState): void {
    if (isRegistered(s.builderName)) {
        // Changed options only reach the pod through a new Deployment, which
        // `buildx rm` deletes and the next bootstrap makes again.
        docker(["buildx", "rm", s.builderName], true);
    }
    docker(kubernetesCreateArgs(s));
}

const FIELDS = ["builderName", "platform", "namespace", "nodeSelector", "requests", "limits", "image", "rootless"] as const;

/** Creates the builder with `docker buildx create --driver kubernetes` and removes it (and its Deployment) on delete. */
export const kubernetesBuilderProvider: pulumi.dynamic.ResourceProvider = {
    async create(inputs: KubernetesBuilderState) {
        register(inputs);
        return { id: inputs.builderName, outs: inputs };
    },
    async diff(_id: string, olds: KubernetesBuilderState, news: KubernetesBuilderState) {
        const changed = FIELDS.filter((f) => JSON.stringify(olds[f]) !== JSON.stringify(news[f]));
        // A fresh CI runner has the builder in the state but not in its buildx: register it again.
        if (!isRegistered(news.builderName)) {
            changed.push("platform");
        }
        return { changes: changed.length > 0, replaces: changed.includes("builderName") ? ["builderName"] : [], deleteBeforeReplace: true };
    },
    async update(_id: string, _olds: KubernetesBuilderState, news: KubernetesBuilderState) {
        register(news);
        return { outs: news };
    },
    async delete(_id: string, props: KubernetesBuilderState) {
        if (isRegistered(props.builderName)) {
            docker(["buildx", "rm", props.builderName], true);
        }
    },
};

/**
 * A kubernetes-driver buildx builder on the machine running `pulumi up`,
 * for a family's pool: `{ name, ready: builder.builderName }`.
 */
export class KubernetesBuilder extends FleetResource {
    /** The registered buildx builder's name; resolves once the builder exists. */
    declare public readonly builderName: pulumi.Output<string>;

    constructor(name: string, args: KubernetesBuilderArgs, opts?: pulumi.CustomResourceOptions) {
        const problems = new Problems();
        problems.addIssues(parseIssues(kubernetesBuilderArgs, args));
        problems.throwIfAny(`KubernetesBuilder ${JSON.stringify(name)}`, pulumi.getStack());
        super(kubernetesBuilderProvider, name, { ...args }, opts, "builders", "KubernetesBuilder");
    }
}
