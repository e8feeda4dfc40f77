export * from "./config";
export * from "./builders";
export * from "./registry";
export * from "./delivery";
export * from "./load";
