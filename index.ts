import * as pulumi from "@pulumi/pulumi";
import { ImageFamily } from "./components/images";
import { buildersFor, loadStackConfig, registryFor } from "./components/stack";
import { exampleFamily } from "./example/family";

// The program every stack runs: read and check the stack's config, then
// compose the components for that environment.
const config = loadStackConfig();

const family = new ImageFamily("example", {
    images: config.images ?? exampleFamily({ artifactSource: config.artifactSource, localArtifactDir: config.localArtifactDir }),
    platforms: config.platforms,
    builders: buildersFor(config),
    registry: registryFor(config),
    git: config.git,
    buildArgs: config.buildArgs,
    variants: config.variants,
    cache: { fallbackBranches: config.fallbackBranches, write: config.cacheWrite },
    tags: { release: config.release },
    push: config.push,
    buildOnPreview: config.buildOnPreview,
});

/** Multi-platform refs (`repo:tag@sha256:…`) per image. */
export const refs = family.refs;
/** Per-platform refs per image. */
export const platformRefs = family.platformRefs;
/** What was built, for humans reading `pulumi stack output`. */
export const build = pulumi.output({ branch: config.git.branch, sha: config.git.sha, platforms: config.platforms });
