import * as pulumi from "@pulumi/pulumi";
import type { GhcrRegistryArgs } from "./types";
import { validateGhcrRegistry } from "./validate";
import { RegistrySpec } from "../images/types";

export const GHCR_ADDRESS = "ghcr.io";

/**
 * GitHub's container registry for teams that keep images next to their code.
 * GHCR creates packages on first push, so there is nothing to declare: this
 * returns the registry an ImageFamily takes, `ghcr.io/<owner>/<image>`, with
 * the token as a secret. Caches go to `<image>-cache` packages (the family's
 * default). Lifecycle rules and protection are ECR features; on GHCR use
 * package retention settings instead.
 */
export function ghcrRegistry(args: GhcrRegistryArgs, stack: string = pulumi.getStack()): RegistrySpec {
    validateGhcrRegistry(args, stack);
    return {
        address: GHCR_ADDRESS,
        // GHCR package paths must be lowercase even when the login is not.
        namespace: args.owner.toLowerCase(),
        username: args.username,
        password: pulumi.secret(args.token),
    };
}
