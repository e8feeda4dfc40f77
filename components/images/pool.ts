import { createHash } from "crypto";
import * as pulumi from "@pulumi/pulumi";
import { BuilderPool, PoolBuilder } from "./types";

/**
 * Which builder of a platform's pool builds what. BuildKit's documented
 * pattern for many daemons is client-side consistent hashing (one build key
 * always on the same daemon, whose local cache stays warm); buildx itself
 * sends a platform's builds to the first node that matches. The hash here is
 * rendezvous (highest random weight) hashing: every builder scores every
 * build and the highest score wins. Each build's choice depends on nothing
 * but its own key and the pool's names, so
 * - it is stable: the same image and variant, the same builder, commit after
 *   commit, whatever else the family adds or drops;
 * - it spreads: each builder's expected share is 1/n of the builds;
 * - it moves the least: a new builder takes only the builds it now scores
 *   highest on, and a removed builder's builds go to their second choice;
 *   no build moves between two builders that both stay.
 */

/** One builder of a pool, as the family uses it. */
export interface PoolMember {
    /** buildx builder name; undefined only for a lone Output (a pool of one needs no hashing). */
    readonly name?: string;
    /** What the builder's check takes: the name, resolving once the builder exists. */
    readonly builder: pulumi.Input<string>;
}

/** The members of a platform's pool, in the order given; empty when the platform has none. */
export function poolMembers(pool: BuilderPool | undefined): PoolMember[] {
    if (pool === undefined) {
        return [];
    }
    if (!Array.isArray(pool)) {
        const lone = pool as pulumi.Input<string>;
        return [{ name: typeof lone === "string" ? lone : undefined, builder: lone }];
    }
    return (pool as readonly (string | PoolBuilder)[]).map((m) => typeof m === "string"
        ? { name: m, builder: m }
        // The check waits for the registration, then names the builder.
        : { name: m.name, builder: pulumi.all([m.ready]).apply(() => m.name) });
}

/** What a build is hashed on: its image and variant. */
export function buildKey(image: string, variant: string): string {
    return `${image}\u0000${variant}`;
}

/**
 * A builder's score for a build: the first 8 bytes of sha256(builder, key).
 * buildx stores builder names in lower case, so the score is too: a name
 * written in another case is the same builder and keeps its builds.
 */
export function rendezvousScore(builder: string, key: string): bigint {
    return createHash("sha256").update(`${builder.toLowerCase()}\u0000${key}`).digest().readBigUInt64BE(0);
}

/** The builder of `names` that builds `key`: the highest score (ties, vanishingly rare, go to the first name in sort order). */
export function pickBuilder(key: string, names: readonly string[]): string {
    if (names.length === 0) {
        throw new Error("pickBuilder: the pool is empty");
    }
    let best = names[0];
    let bestScore = rendezvousScore(best, key);
    for (const name of names.slice(1)) {
        const score = rendezvousScore(name, key);
        if (score > bestScore || (score === bestScore && name.toLowerCase() < best.toLowerCase())) {
            best = name;
            bestScore = score;
        }
    }
    return best;
}

/** The member that builds `key`: the only one, or the one rendezvous hashing picks. */
export function memberFor(key: string, members: readonly PoolMember[]): PoolMember {
    if (members.length === 1) {
        return members[0];
    }
    const name = pickBuilder(key, members.map((m) => m.name!));
    return members.find((m) => m.name === name)!;
}
