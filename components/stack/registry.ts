import { RegistrySpec } from "../images/types";
import { StackConfig } from "./config";

/**
 * Where this stack's images and caches go. Today: `imagefleet:registry` as
 * given. Cloud stacks get ECR repositories here.
 */
export function registryFor(config: StackConfig): RegistrySpec {
    return config.registry;
}
