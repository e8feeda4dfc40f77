/**
 * imagefleet: Pulumi components that build families of multi-platform
 * container images on native BuildKit builders with a registry-backed cache.
 *
 * This entry exports every component. Each module is also an entry of its own:
 * `imagefleet/images` (ImageFamily; needs only @pulumi/pulumi and
 * @pulumi/docker-build), `imagefleet/builders` (BuilderFleet; also @pulumi/aws
 * and @pulumi/tls), `imagefleet/registry` (EcrRegistry: @pulumi/aws;
 * ghcrRegistry: nothing more) and `imagefleet/delivery` (GithubDelivery:
 * @pulumi/aws and @pulumi/github; Promotion, StackImageRefs: nothing more).
 * The modules load the optional peers only when a component that needs them
 * is first used, so importing ImageFamily from here loads none of them either.
 */
export * from "./errors";
export * as images from "./images";
export * as builders from "./builders";
export * as registry from "./registry";
export * as delivery from "./delivery";
export * as supplychain from "./supplychain";
export { BuilderPool, ImageFamily, ImageFamilyArgs, ImageSpec, PoolBuilder, RegistrySpec } from "./images";
export { BuilderFleet, BuilderFleetArgs, KubernetesBuilder, KubernetesBuilderArgs } from "./builders";
export { EcrRegistry, EcrRegistryArgs, GhcrRegistryArgs } from "./registry";
export { GithubDelivery, GithubDeliveryArgs, Promotion, PromotionArgs, StackImageRefs } from "./delivery";
export { SigningKey, SigningKeyArgs, SupplyChain, SupplyChainArgs } from "./supplychain";
