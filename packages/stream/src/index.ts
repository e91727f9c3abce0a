export * from "./transport.js";
export * from "./framed-transport.js";
export * from "./tcp-transport.js";
export * from "./ws-transport.js";
export * from "./engine.js";
export * from "./congestion.js";
export * from "./channel-binding.js";
