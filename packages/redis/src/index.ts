export * from "./store/index.js";
export * from "./registry/index.js";
