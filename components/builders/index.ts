export * from "./builderFleet";
export * from "./types";
export { BuildxRegistration, BuildxRegistrationArgs, RegistrationNode } from "./registration";
export { fleetProblems, instanceArchitecture } from "./validate";
export { renderBuildkitdToml, BuildkitdTomlOptions } from "./buildkitdToml";
export { renderUserData, hostBuildkitdToml } from "./userData";
export { IDLE_STOP_SCRIPT } from "./idleStop";
export { caProfile, serverProfile, clientProfile, CertProfile } from "./certificates";
