import * as pulumi from "@pulumi/pulumi";
import { Platform } from "../images/platforms";
import { StackConfig } from "./config";

/**
 * The buildx builder per platform for this stack. Today: the names in
 * `imagefleet:builders` (the local stack's buildkitd hosts, or builders that
 * already exist). Cloud stacks get a BuilderFleet here.
 */
export function buildersFor(config: StackConfig): Partial<Record<Platform, pulumi.Input<string>>> {
    return config.builders;
}
