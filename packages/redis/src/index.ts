export * from "./store/index.js";
export * from "./registry/index.js";
export * from "./limiter/index.js";
export * from "./resumption/index.js";
export * from "./muc/index.js";
