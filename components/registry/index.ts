export * from "./ecrRegistry";
export * from "./ghcrRegistry";
export * from "./lifecycle";
