/**
 * imagefleet: Pulumi components that build families of multi-platform
 * container images on native BuildKit builders with a registry-backed cache.
 */
export * from "./errors";
export * as images from "./images";
export { ImageFamily, ImageFamilyArgs, ImageSpec } from "./images";
