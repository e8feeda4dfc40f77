export * from "./config";
export * from "./builders";
export * from "./registry";
