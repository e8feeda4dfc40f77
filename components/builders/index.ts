// `imagefleet/builders`. builderFleet.ts imports @pulumi/aws and certificates.ts
// @pulumi/tls (optional peers): they load on first use (see ../lazy.ts), so
// importing this module, or the package entry, loads neither.
import { lazyExports } from "../lazy";
import type * as fleet from "./builderFleet";
import type * as certificates from "./certificates";

export * from "./types";
export { BuildxRegistration, RegistrationNode } from "./registration";
export { KubernetesBuilder } from "./kubernetesBuilder";
export { fleetProblems, instanceArchitecture } from "./validate";
export { renderBuildkitdToml, BuildkitdTomlOptions } from "./buildkitdToml";
export { renderUserData, hostBuildkitdToml } from "./userData";
export { IDLE_STOP_SCRIPT } from "./idleStop";
export type { CertProfile } from "./certificates";

export type BuilderFleet = fleet.BuilderFleet;
export const BuilderFleet = undefined as unknown as typeof fleet.BuilderFleet;
// eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded on first use, which `import` cannot express
lazyExports(exports, ["BuilderFleet"], ["@pulumi/aws", "@pulumi/tls"], () => require("./builderFleet"));

export const caProfile = undefined as unknown as typeof certificates.caProfile;
export const serverProfile = undefined as unknown as typeof certificates.serverProfile;
export const clientProfile = undefined as unknown as typeof certificates.clientProfile;
// eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded on first use, which `import` cannot express
lazyExports(exports, ["caProfile", "serverProfile", "clientProfile"], ["@pulumi/tls"], () => require("./certificates"));
