// `imagefleet/registry`. ecrRegistry.ts imports @pulumi/aws (an optional peer):
// it loads on first use (see ../lazy.ts), so `ghcrRegistry` and the lifecycle
// rules work without it.
import { lazyExports } from "../lazy";
import type * as ecr from "./ecrRegistry";

export * from "./ghcrRegistry";
export * from "./lifecycle";
export * from "./types";

export type EcrRegistry = ecr.EcrRegistry;
export const EcrRegistry = undefined as unknown as typeof ecr.EcrRegistry;
export const PROTECTED_ENVIRONMENTS = undefined as unknown as typeof ecr.PROTECTED_ENVIRONMENTS;
export const protectionFor = undefined as unknown as typeof ecr.protectionFor;
export const validateEcrRegistry = undefined as unknown as typeof ecr.validateEcrRegistry;
// eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded on first use, which `import` cannot express
lazyExports(exports, ["EcrRegistry", "PROTECTED_ENVIRONMENTS", "protectionFor", "validateEcrRegistry"], ["@pulumi/aws"], () => require("./ecrRegistry"));
