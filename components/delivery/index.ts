// `imagefleet/delivery`. githubDelivery.ts imports @pulumi/aws and
// @pulumi/github (optional peers): it loads on first use (see ../lazy.ts), so
// `Promotion` and `StackImageRefs` work without them.
import { lazyExports } from "../lazy";
import type * as github from "./githubDelivery";

export * from "./policies";
export * from "./promotion";
export * from "./stackRefs";
export * from "./types";

export type GithubDelivery = github.GithubDelivery;
export const GithubDelivery = undefined as unknown as typeof github.GithubDelivery;
export const validateDelivery = undefined as unknown as typeof github.validateDelivery;
// eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded on first use, which `import` cannot express
lazyExports(exports, ["GithubDelivery", "validateDelivery"], ["@pulumi/aws", "@pulumi/github"], () => require("./githubDelivery"));
