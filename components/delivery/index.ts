export * from "./githubDelivery";
export * from "./policies";
export * from "./promotion";
export * from "./stackRefs";
