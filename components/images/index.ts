export * from "./imageFamily";
export * from "./types";
export * from "./platforms";
export { resolveGit, ResolvedGit } from "./git";
export { validateFamily } from "./validate";
export { branchSlug, tagNames, cacheTag, tagSafe } from "./policy";
export { ContextLimits, ContextReport, DirectoryReport, DEFAULT_CONTEXT_LIMITS, formatBytes } from "./contexts/report";
