export * from "./config.js";
export * from "./config-docs.js";
export * from "./tls.js";
export * from "./logger.js";
export * from "./server.js";
export * from "./http.js";
export * from "./admin/index.js";
