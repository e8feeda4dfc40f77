import * as pulumi from "@pulumi/pulumi";
import * as dockerbuild from "@pulumi/docker-build";
import { archOf, Platform } from "./platforms";
import { buildInputsDigest, cacheTag, platformTag } from "./policy";
import { StagedContext } from "./contexts/stage";

/** A named context of one build: another image's build of the same platform, or a staged directory. */
export type NamedSource = NamedImage | NamedLocal;

/** Another image of the family, pinned by digest. */
export interface NamedImage {
    /** Discriminator. Required. */
    readonly kind: "image";
    /** The image's repository. Required. */
    readonly repository: pulumi.Input<string>;
    /** Digest of that image's build of the same platform. Required. */
    readonly digest: pulumi.Input<string>;
}

/** A local directory, staged like a context. */
export interface NamedLocal {
    /** Discriminator. Required. */
    readonly kind: "local";
    /** The staged directory. Required. */
    readonly staged: StagedContext;
}

/** Everything one per-platform build needs; assembled by ImageFamily. */
export interface PlatformBuildArgs {
    /** Image name (a static label). Required. */
    readonly image: string;
    /** Image kind (a static label). Required. */
    readonly kind: string;
    /** Variant name, `""` for the default variant. Required. */
    readonly variant: string;
    /** The one platform built. Required. */
    readonly platform: Platform;
    /** buildx builder of that platform. Required. */
    readonly builder: pulumi.Input<string>;
    /** Repository pushed to. Required. */
    readonly repository: pulumi.Input<string>;
    /** Repository of the registry cache. Required. */
    readonly cacheRepository: pulumi.Input<string>;
    /** The staged context and Dockerfile. Required. */
    readonly staged: StagedContext;
    /** Build stage. Default: the last stage. */
    readonly target?: string;
    /** Merged build args, SOURCE_DATE_EPOCH included. Required. */
    readonly buildArgs: Readonly<Record<string, string>>;
    /** Named contexts by name. Required (may be empty). */
    readonly named: Readonly<Record<string, NamedSource>>;
    /** Cache ref slugs to read, own branch first; empty when caching is off. Required. */
    readonly readSlugs: readonly string[];
    /** Cache ref slug to write. Default: none. */
    readonly writeSlug?: string;
    /** Push to the registry. Required. */
    readonly push: boolean;
    /** Registry credentials. Default: none. */
    readonly registryAuth?: dockerbuild.types.input.RegistryArgs;
    /** Build during preview. Required. */
    readonly buildOnPreview: boolean;
}

function namedLocation(source: NamedSource): pulumi.Input<string> {
    return source.kind === "local"
        ? source.staged.location
        : pulumi.interpolate`docker-image://${source.repository}@${source.digest}`;
}

/**
 * Declares one `docker-build` Image. Its inputs hold nothing per commit, so a
 * commit that changes none of them leaves the resource untouched: the tag is
 * derived from the build's inputs, the context is the staged copy, and the
 * only labels are static. `rewrite-timestamp` with SOURCE_DATE_EPOCH makes a
 * rebuild of the same inputs produce the same digest (a fresh builder, a
 * wiped cache), so nothing downstream of it rebuilds either.
 */
export function declarePlatformBuild(name: string, a: PlatformBuildArgs, opts: pulumi.CustomResourceOptions): dockerbuild.Image {
    const arch = archOf(a.platform);
    const namedEntries = Object.entries(a.named);
    const namedLocations = pulumi.all(Object.fromEntries(namedEntries.map(([k, v]) => [k, namedLocation(v)])));
    const tag = pulumi.all([a.repository, namedLocations]).apply(([repository, locations]) => {
        const named = Object.fromEntries(Object.entries(a.named).map(([k, v]) =>
            [k, v.kind === "local" ? `local:${v.staged.digest}` : locations[k]]));
        const digest = buildInputsDigest({
            context: a.staged.digest, target: a.target, buildArgs: a.buildArgs, platform: a.platform, variant: a.variant, named,
        });
        return `${repository}:${platformTag(digest, a.variant, arch)}`;
    });
    const cacheRef = (slug: string) => pulumi.interpolate`${a.cacheRepository}:${cacheTag(slug, a.variant, arch)}`;
    return new dockerbuild.Image(name, {
        tags: [tag],
        platforms: [a.platform as dockerbuild.Platform],
        builder: { name: a.builder },
        context: {
            location: a.staged.location,
            named: namedEntries.length > 0
                ? Object.fromEntries(namedEntries.map(([k, v]) => [k, { location: namedLocation(v) }]))
                : undefined,
        },
        dockerfile: { location: a.staged.dockerfile },
        target: a.target,
        buildArgs: a.buildArgs,
        labels: {
            "dev.imagefleet.image": a.image,
            "dev.imagefleet.kind": a.kind,
            ...(a.variant ? { "dev.imagefleet.variant": a.variant } : {}),
        },
        cacheFrom: a.readSlugs.length > 0 ? a.readSlugs.map((s) => ({ registry: { ref: cacheRef(s) } })) : undefined,
        cacheTo: a.writeSlug !== undefined
            ? [{ registry: { ref: cacheRef(a.writeSlug), mode: dockerbuild.CacheMode.Max, imageManifest: true, ociMediaTypes: true } }]
            : undefined,
        // `push: true` would add a plain registry export; this one also
        // clamps every file time in the layers to SOURCE_DATE_EPOCH.
        exports: a.push ? [{ raw: "type=registry,rewrite-timestamp=true" }] : undefined,
        push: false,
        registries: a.registryAuth ? [a.registryAuth] : undefined,
        buildOnPreview: a.buildOnPreview,
    }, opts);
}
