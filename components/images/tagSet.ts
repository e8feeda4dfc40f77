import * as pulumi from "@pulumi/pulumi";
import { FleetResource } from "../fleetResource";
import type { RegistryAuth } from "../supplychain/tools";
import * as tools from "../supplychain/tools";
import * as manifestCopy from "./manifestCopy";

/**
 * A commit's tags for a whole family, published at registry speed. A commit
 * that builds nothing still moves tags (`<sha12>` per image, the environment
 * alias); each is one manifest copy in the registry, and one docker-build
 * `Index` resource per tag cost ~0.75 s each, nearly one after another. One
 * resource for the family instead: its state records what every tag points
 * at, a preview shows which tags move (the `tags` map's diff), and an update
 * copies only the moved tags, many at once, with `docker buildx imagetools
 * create` (buildx's own registry client: the docker config's credentials and
 * credential helpers, `certs.d`). Nothing is deleted: a tag dropped from the
 * map stays in the registry, as do the older commits' tags.
 */

// The provider captures these, never the module (see supplychain/providers.ts).
const { runTool, tail } = tools;
const { manifestCopier } = manifestCopy;

/** Inputs of a TagSet. */
export interface TagSetArgs {
    /** Tag (`repo:tag`) → the index it points at (`repo@sha256:…`, the same repository). Required. */
    readonly tags: pulumi.Input<Record<string, pulumi.Input<string>>>;
    /** Credentials for the registry; kept secret. Default: none (the machine's docker config). */
    readonly registry?: pulumi.Input<RegistryAuth>;
    /** Copies at once. Default: 8. */
    readonly concurrency?: number;
}

interface Props {
    tags: Record<string, string>;
    registry?: RegistryAuth;
    concurrency?: number;
}

/** The tags whose target is new or changed. */
function moved(olds: Partial<Props> | undefined, news: Props): string[] {
    return Object.keys(news.tags).filter((t) => olds?.tags?.[t] !== news.tags[t]).sort();
}

/** Copies each moved tag's index, one copy per source (it takes several tags), `concurrency` at a time. */
async function publish(props: Props, tags: readonly string[]): Promise<void> {
    const bySource = new Map<string, string[]>();
    for (const t of tags) {
        bySource.set(props.tags[t], [...(bySource.get(props.tags[t]) ?? []), t]);
    }
    const jobs = [...bySource];
    const failures: string[] = [];
    const concurrency = Math.max(1, props.concurrency ?? 8);
    const copier = manifestCopier(props.registry, concurrency);
    const worker = async () => {
        for (let job = jobs.shift(); job !== undefined; job = jobs.shift()) {
            const [source, targets] = job;
            const direct = await copier.copy(source, targets);
            if (direct.ok || !direct.fallback) {
                if (!direct.ok) {
                    failures.push(`${targets.join(", ")} -> ${source}: ${direct.why}`);
                }
                continue;
            }
            const r = await runTool("docker", ["buildx", "imagetools", "create", ...targets.flatMap((t) => ["-t", t]), source], { registry: props.registry, timeoutMs: 10 * 60 * 1000 });
            if (r.code !== 0) {
                failures.push(`${targets.join(", ")} -> ${source}: ${tail(r)}`);
            }
        }
    };
    await Promise.all(Array.from({ length: concurrency }, worker)).finally(() => copier.close());
    if (failures.length > 0) {
        throw new Error(`could not publish ${failures.length} of ${bySource.size} tag copies:\n${failures.join("\n")}`);
    }
}

export const tagSetProvider: pulumi.dynamic.ResourceProvider = {
    async diff(_id: string, olds: Props, news: Props) {
        return { changes: moved(olds, news).length > 0 || Object.keys(olds.tags ?? {}).length !== Object.keys(news.tags).length };
    },
    async create(inputs: Props) {
        await publish(inputs, moved(undefined, inputs));
        return { id: "tags", outs: inputs };
    },
    async update(_id: string, olds: Props, news: Props) {
        await publish(news, moved(olds, news));
        return { outs: news };
    },
    // Tags outlive the resource: the provider deletes nothing.
    async delete() {
        return;
    },
};

/** Every tag of a family's commit, published together. */
export class TagSet extends FleetResource {
    /** Tag → the index it points at, as published. */
    public readonly tags!: pulumi.Output<Record<string, string>>;

    constructor(name: string, args: TagSetArgs, opts?: pulumi.CustomResourceOptions) {
        super(tagSetProvider, name, { tags: args.tags, registry: args.registry, concurrency: args.concurrency }, {
            ...opts, additionalSecretOutputs: ["registry"],
        }, "images", "TagSet");
    }
}
