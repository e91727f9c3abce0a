export * from "./options.js";
export * from "./transport.js";
export * from "./tcp-transport.js";
export * from "./ws-transport.js";
export * from "./stream.js";
export * from "./listeners.js";
export * from "./overload.js";
