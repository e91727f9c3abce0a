// @switchboard/bench: a load generator for any XMPP server on loopback (the role tsung/amoc play
// for ejabberd), and the comparison runner built on it.
export * from "./types.js";
export { LoadClient, type LoadClientOptions } from "./client.js";
export { LoadClientError, failureKindOf, type FailureKind } from "./errors.js";
export { NotLoopbackError, assertLoopback, isLoopbackAddress } from "./loopback.js";
export { ScenarioSpecError, runScenario, validateSpec } from "./run.js";
export type { RunOptions } from "./pool.js";
export { LatencyHistogram, serverRssBytes } from "./stats.js";
export { formatResult } from "./format.js";
export { freePort } from "./servers/process.js";
export { main as benchMain } from "./cli.js";
