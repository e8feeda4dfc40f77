/**
 * imagefleet: Pulumi components that build families of multi-platform
 * container images on native BuildKit builders with a registry-backed cache.
 */
export * from "./errors";
export * as images from "./images";
export * as builders from "./builders";
export * as registry from "./registry";
export * as delivery from "./delivery";
export * as supplychain from "./supplychain";
export { ImageFamily, ImageFamilyArgs, ImageSpec, RegistrySpec } from "./images";
export { BuilderFleet, BuilderFleetArgs } from "./builders";
export { EcrRegistry, EcrRegistryArgs, GhcrRegistryArgs } from "./registry";
export { GithubDelivery, GithubDeliveryArgs, Promotion, PromotionArgs, StackImageRefs } from "./delivery";
export { SigningKey, SigningKeyArgs, SupplyChain, SupplyChainArgs } from "./supplychain";
