import * as pulumi from "@pulumi/pulumi";
import { Promotion, promotedImages, StackImageRefs } from "./components/delivery";
import { ImageFamily } from "./components/images";
import { loadRegistrySettings, loadStackConfig, plannedRepositoryArns, registryFor, stackFleet } from "./components/stack";
import { deliveryFor, loadDeliverySettings } from "./components/stack/delivery";
import { attestorsFor, loadSupplyChainSettings, promotionVerifyFor, signingKeyFor } from "./components/stack/supplychain";
import { SupplyChain } from "./components/supplychain";
import { exampleFamily } from "./example/family";

// The program every stack runs: read and check the stack's config, then
// compose the components for that environment. Every config check runs
// before the first resource is declared.
const config = loadStackConfig();
const images = config.images ?? exampleFamily({ artifactSource: config.artifactSource, localArtifactDir: config.localArtifactDir });
const imageNames = images.map((i) => i.name);
const registrySettings = loadRegistrySettings(config, imageNames);
const deliverySettings = loadDeliverySettings(config);
const supplySettings = loadSupplyChainSettings(config, deliverySettings.promoteFrom, (deliverySettings.delivery?.environments ?? []).length > 0);
// Builders first (their config is checked as they are declared); the
// repositories' ARNs are known from their names, so the hosts' role fits them.
const fleet = deliverySettings.promoteFrom
    ? undefined
    : stackFleet(config, { repositoryArns: plannedRepositoryArns(config, registrySettings), imageNames });
const builders = fleet?.builders;
const registry = registryFor(config, registrySettings);
const delivery = deliveryFor(config, deliverySettings);
// Signs what this stack builds (imagefleet:supplychain.signing); on KMS only the deploy roles may sign.
const signingKey = signingKeyFor(supplySettings, delivery?.deployRoleArns.apply((roles) => Object.values(roles)));

interface Published {
    refs: pulumi.Output<Record<string, string>>;
    platformRefs?: pulumi.Output<Record<string, Record<string, string>>>;
    placement?: pulumi.Output<Record<string, Record<string, string[]>>>;
    record?: pulumi.Output<string>;
    promotedFrom?: pulumi.Output<Record<string, string>>;
    supplychain?: pulumi.Output<object>;
}

/** Build the family on this stack's builders (local, dev, staging). */
function buildFamily(familyBuilders: NonNullable<typeof builders>): Published {
    // This stack's own outputs as its last update left them: the family's
    // record of what each build was built from, which the family compares
    // with this run to review it (a preview prints the table).
    const self = new pulumi.StackReference(`${pulumi.getOrganization()}/${pulumi.getProject()}/${pulumi.getStack()}`);
    const family = new ImageFamily("example", {
        images,
        platforms: config.platforms,
        builders: familyBuilders,
        registry: registry.spec,
        git: config.git,
        buildArgs: config.buildArgs,
        variants: config.variants,
        cache: { fallbackBranches: config.fallbackBranches, write: config.cacheWrite, deployBranch: config.deployBranch },
        tags: { release: config.release },
        push: config.push,
        buildOnPreview: config.buildOnPreview,
        checks: config.checks,
        previousRecord: self.getOutput("imageRecord") as pulumi.Output<string | undefined>,
    });
    // SBOM, provenance and signature per published digest, parented to the family.
    const chain = signingKey && new SupplyChain("example-supplychain", {
        // Each with its spec, so the provenance names example/<image>.Dockerfile, not the staged copy.
        images: family.images.map((i) => ({ ...i, spec: images.find((s) => s.name === i.image) })),
        source: { repository: supplySettings.config!.sourceRepository!, commit: config.git.sha, branch: config.git.branch },
        key: signingKey,
        // The fleet's hosts attest their own builds when it has an attestor; the config adds other builders.
        attestors: attestorsFor(supplySettings, fleet?.fleet?.attestors),
        registry: registry.spec,
        namePrefix: "example",
    }, { parent: family });
    return {
        refs: family.refs,
        record: family.record,
        platformRefs: family.platformRefs,
        placement: family.placement,
        supplychain: chain && pulumi.output({ verifyKey: chain.verifyKey, signed: chain.signed, provenance: chain.provenance, attestedBy: chain.attestedBy }),
    };
}

/**
 * Promote what another stack built (prod promotes staging): the same digests
 * under this stack's tags, and no build at all, so no builder and no Dockerfile.
 */
function promote(from: string): Published {
    const { spec } = registry;
    const source = new StackImageRefs(from);
    const promotion = new Promotion("example", {
        images: promotedImages(images, Object.keys(config.variants)),
        sources: source.refs,
        sourceName: `stack ${JSON.stringify(from)}`,
        repositories: Object.fromEntries(imageNames.map((name) => [name,
            spec.repositories?.[name] ?? pulumi.interpolate`${spec.address}/${spec.namespace ? `${spec.namespace}/` : ""}${name}`])),
        registry: spec,
        release: config.release,
        // What the source's hosts attest, as the source recorded it; checked against this stack's own builder keys.
        verify: promotionVerifyFor(supplySettings, source.reference.getOutput("supplychain").apply((sc) => sc?.attestedBy ?? {})),
    });
    return { refs: promotion.refs, promotedFrom: promotion.sources };
}

const published = deliverySettings.promoteFrom ? promote(deliverySettings.promoteFrom) : buildFamily(builders!);

/** Multi-platform refs (`repo:tag@sha256:…`) per image; what `StackImageRefs` reads. */
export const refs = published.refs;
/** What each build was built from (compact JSON): the next run reviews its changes against it. */
export const imageRecord = published.record ?? pulumi.output("");
/** Per-platform refs per image; empty on a promoting stack. */
export const platformRefs = published.platformRefs ?? pulumi.output({});
/** Per platform, per builder of its pool, the images it builds; empty on a promoting stack. */
export const placement = published.placement ?? pulumi.output({});
/** The source ref each image was promoted from; empty on a building stack. */
export const promotedFrom = published.promotedFrom ?? pulumi.output({});
/**
 * The key that verifies this stack's signatures, the signed index digests and
 * each platform's provenance, and per build on an attesting builder the
 * host's key and what its provenance must state (`attestedBy`); empty when
 * not signing.
 */
export const supplychain = published.supplychain ?? pulumi.output({});
/** What was built or promoted, for humans reading `pulumi stack output`. */
export const build = pulumi.output({
    branch: config.git.branch,
    sha: config.git.sha,
    platforms: config.platforms,
    mode: deliverySettings.promoteFrom ? `promoted from ${deliverySettings.promoteFrom}` : "built",
});
/** Role ARNs for GitHub Actions, when this stack manages delivery. */
export const deliveryRoles = pulumi.output(delivery ? { preview: delivery.previewRoleArn, deploy: delivery.deployRoleArns } : {});
