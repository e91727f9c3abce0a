export * from "./options.js";
export * from "./client-stream.js";
export * from "./listeners.js";
export * from "./overload.js";
export * from "./admission.js";
export * from "./listen.js";
export * from "./user-rate.js";
export { readProxyHeader, parseProxyHeader, ProxyHeaderError } from "./proxy-protocol.js";
