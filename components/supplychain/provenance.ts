/**
 * SLSA v1 provenance predicates for what an ImageFamily publishes, and the
 * checks a promotion runs on them. Pure functions: the dynamic providers
 * (providers.ts, verifyProvider.ts) and the unit tests use the same code.
 *
 * Pulumi serializes the providers with every value their functions reach. A
 * function here is copied by value; a reference to this module's `exports`
 * would be serialized as `require("imagefleet/dist/…")`, which the package's
 * `exports` map refuses. So functions here refer only to functions and to the
 * private constants below, never to an exported constant.
 */

/** SLSA provenance v1 predicate type (what `cosign attest --type slsaprovenance1` writes). */
const SLSA_V1 = "https://slsa.dev/provenance/v1";
export const SLSA_PROVENANCE_V1 = SLSA_V1;
/** SPDX predicate type (`cosign attest --type spdxjson`). */
const SPDX = "https://spdx.dev/Document";
export const SPDX_PREDICATE = SPDX;
/** buildType of a per-platform image built by BuildKit through buildx. */
const IMAGE_TYPE = "https://github.com/imagefleet/imagefleet/buildtypes/buildx-image/v1";
export const BUILD_TYPE_IMAGE = IMAGE_TYPE;
/** buildType of a multi-platform index assembled from per-platform images. */
const INDEX_TYPE = "https://github.com/imagefleet/imagefleet/buildtypes/index/v1";
export const BUILD_TYPE_INDEX = INDEX_TYPE;

/**
 * `runDetails.builder.id` of every provenance imagefleet writes: what
 * generated and signed it, which is imagefleet's SupplyChain running inside
 * the deploying `pulumi up` (a tenant of the build platform, hence SLSA Build
 * L1), not BuildKit. The BuildKit builder that ran the build is recorded in
 * `internalParameters.buildkit`, and the machine that ran `pulumi up` in
 * `metadata.invocationId`.
 */
const GENERATOR = "https://github.com/imagefleet/imagefleet/generators/pulumi-up/v1";
export const PROVENANCE_GENERATOR_ID = GENERATOR;

/** Build args whose names look like credentials never enter a provenance (they belong in BuildKit secrets). */
const SECRET_NAME = /(SECRET|TOKEN|PASSW(OR)?D|PASSPHRASE|CREDENTIAL|PRIVATE|API_?KEY|ACCESS_?KEY|AUTH)/i;
export const SECRET_ARG = SECRET_NAME;

/** The commit a build came from. */
export interface SourceInfo {
    /** Repository URL, e.g. `https://github.com/example-org/imagefleet`. Required. */
    readonly repository: string;
    /** Full commit SHA. Required. */
    readonly commit: string;
    /** Branch name. Required. */
    readonly branch: string;
}

/** A dependency the build pulled: a family image (named context) or a base image. */
export interface Dependency {
    /** Context name for family images (`dev-env`), the ref for base images. */
    readonly name: string;
    /** `docker-image://repo@sha256:…` or `docker-image://ref`. */
    readonly uri: string;
    /** `sha256:…` of the manifest used, when known. */
    readonly digest?: string;
}

/** Everything a per-platform image's provenance states. */
export interface ImageBuildInfo {
    readonly image: string;
    readonly variant: string;
    readonly platform: string;
    /** Repository the image was pushed to. */
    readonly repository: string;
    /** Digest of the per-platform manifest (the provenance's subject). */
    readonly digest: string;
    readonly source: SourceInfo;
    readonly context: string;
    readonly dockerfile: string;
    /** sha256 over the context's files (after .dockerignore) and the Dockerfile, when the family staged them. */
    readonly contextDigest?: string;
    readonly target?: string;
    readonly buildArgs: Readonly<Record<string, string>>;
    readonly dependencies: readonly Dependency[];
    /** buildx builder name. */
    readonly builder: string;
    /** The builder's endpoint (`tcp://host:port`), or `unknown` when buildx could not say. */
    readonly builderEndpoint: string;
    /** BuildKit version the builder reported, when known. */
    readonly buildkitVersion?: string;
    /** The BuildKit worker's hostname (buildx's `org.mobyproject.buildkit.worker.hostname`), when known. */
    readonly builderHostname?: string;
    /** The machine that ran `pulumi up` (it drove the build and signed). */
    readonly invokedOn: string;
    /** ISO time the provenance was made. */
    readonly createdOn: string;
}

/** A per-platform image in an index's provenance. */
export interface IndexMember {
    readonly platform: string;
    readonly digest: string;
}

/** Everything an index's provenance states. */
export interface IndexBuildInfo {
    readonly image: string;
    readonly variant: string;
    readonly repository: string;
    readonly digest: string;
    readonly source: SourceInfo;
    readonly members: readonly IndexMember[];
    /** Builder names of the members, per platform. */
    readonly builders: Readonly<Record<string, string>>;
    readonly invokedOn: string;
    readonly createdOn: string;
}

/** `buildx://<name>@<host:port>`: the BuildKit builder's name plus the host it reached. */
export function builderId(name: string, endpoint: string): string {
    const host = endpoint.replace(/^[a-z0-9+.-]+:\/\//i, "") || "unknown";
    return `buildx://${name}@${host}`;
}

/** Whether a BuildKit builder id (`buildx://name@host`) is one of the expected builders (a name or a full id). */
export function builderMatches(id: string, expected: readonly string[]): boolean {
    return expected.some((e) => id === e || id.startsWith(`buildx://${e}@`));
}

/** Build args with credential-like names removed, sorted for a stable statement. */
export function publicBuildArgs(args: Readonly<Record<string, string>>): Record<string, string> {
    return Object.fromEntries(Object.entries(args).filter(([k]) => !SECRET_NAME.test(k)).sort(([a], [b]) => a.localeCompare(b)));
}

function gitUri(source: SourceInfo): string {
    const repo = source.repository.startsWith("git+") ? source.repository : `git+${source.repository}`;
    return `${repo}@refs/heads/${source.branch}`;
}

function digestOf(d: string | undefined): Record<string, string> | undefined {
    const m = /^sha256:([0-9a-f]{64})$/.exec(d ?? "");
    return m ? { sha256: m[1] } : undefined;
}

/** The SLSA v1 predicate of one per-platform image. */
export function imageProvenance(info: ImageBuildInfo): Record<string, unknown> {
    return {
        buildDefinition: {
            buildType: IMAGE_TYPE,
            externalParameters: {
                source: { repository: info.source.repository, ref: `refs/heads/${info.source.branch}`, commit: info.source.commit },
                image: info.image,
                variant: info.variant,
                platform: info.platform,
                context: info.context,
                dockerfile: info.dockerfile,
                ...(info.target ? { target: info.target } : {}),
                buildArgs: publicBuildArgs(info.buildArgs),
            },
            internalParameters: {
                repository: info.repository,
                // The BuildKit host that ran the build: it ran it, but it did not write this statement.
                buildkit: {
                    builder: builderId(info.builder, info.builderEndpoint),
                    endpoint: info.builderEndpoint,
                    version: info.buildkitVersion ?? "unknown",
                    ...(info.builderHostname ? { hostname: info.builderHostname } : {}),
                },
            },
            resolvedDependencies: [
                { uri: gitUri(info.source), digest: { gitCommit: info.source.commit } },
                ...(digestOf(info.contextDigest) ? [{ name: "context", uri: `file:${info.context}`, digest: digestOf(info.contextDigest) }] : []),
                ...info.dependencies.map((d) => ({ name: d.name, uri: d.uri, ...(digestOf(d.digest) ? { digest: digestOf(d.digest) } : {}) })),
            ],
        },
        runDetails: {
            builder: { id: GENERATOR },
            metadata: { invocationId: `${info.invokedOn}/${info.source.commit}`, startedOn: info.createdOn, finishedOn: info.createdOn },
        },
    };
}

/** The SLSA v1 predicate of a multi-platform index: its members are the per-platform images. */
export function indexProvenance(info: IndexBuildInfo): Record<string, unknown> {
    return {
        buildDefinition: {
            buildType: INDEX_TYPE,
            externalParameters: {
                source: { repository: info.source.repository, ref: `refs/heads/${info.source.branch}`, commit: info.source.commit },
                image: info.image,
                variant: info.variant,
                platforms: info.members.map((m) => m.platform),
            },
            internalParameters: { repository: info.repository, builders: info.builders },
            resolvedDependencies: [
                { uri: gitUri(info.source), digest: { gitCommit: info.source.commit } },
                ...info.members.map((m) => ({ name: m.platform, uri: `docker-image://${info.repository}@${m.digest}`, digest: digestOf(m.digest) })),
            ],
        },
        runDetails: {
            builder: { id: GENERATOR },
            metadata: { invocationId: `${info.invokedOn}/${info.source.commit}`, startedOn: info.createdOn, finishedOn: info.createdOn },
        },
    };
}

/**
 * Base images a Dockerfile pulls (`FROM x`, `COPY --from=x`, `RUN --mount=from=x`),
 * with `ARG` defaults and build args substituted; stages and named contexts
 * (family images, local directories) are not base images.
 */
export function baseImages(dockerfile: string, buildArgs: Readonly<Record<string, string>>, namedContexts: readonly string[]): string[] {
    const args: Record<string, string> = {};
    const stages = new Set<string>();
    const found: string[] = [];
    const subst = (s: string) => s.replace(/\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?/g, (_, k: string) => buildArgs[k] ?? args[k] ?? "");
    const add = (ref: string) => {
        const r = subst(ref);
        if (r && r !== "scratch" && !stages.has(r.toLowerCase()) && !namedContexts.includes(r) && !/^\d+$/.test(r) && !found.includes(r)) {
            found.push(r);
        }
    };
    // Join continuation lines; drop comments.
    const lines = dockerfile.replace(/\\\r?\n/g, " ").split(/\r?\n/).map((l) => l.trim()).filter((l) => l && !l.startsWith("#"));
    let beforeFrom = true;
    for (const line of lines) {
        const [word, ...rest] = line.split(/\s+/);
        const instr = word.toUpperCase();
        if (instr === "ARG" && beforeFrom) {
            for (const decl of rest) {
                const [k, ...v] = decl.split("=");
                if (v.length > 0) {
                    args[k] = v.join("=").replace(/^["']|["']$/g, "");
                }
            }
        } else if (instr === "FROM") {
            beforeFrom = false;
            const parts = rest.filter((p) => !p.startsWith("--"));
            add(parts[0]);
            const as = parts.findIndex((p) => p.toLowerCase() === "as");
            if (as >= 0 && parts[as + 1]) {
                stages.add(parts[as + 1].toLowerCase());
            }
        } else if (instr === "COPY" || instr === "ADD" || instr === "RUN") {
            for (const m of line.matchAll(/--(?:from|mount=[^ ]*?from)=([^\s,]+)/g)) {
                add(m[1]);
            }
        }
    }
    return found;
}
