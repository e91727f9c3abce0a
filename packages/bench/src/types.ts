/**
 * The contract between the load generator (client side: scenarios, connections, measurements)
 * and the comparison runner (server side: starting Switchboard / ejabberd pinned to a core,
 * repetitions, table, JSON). Load only ever goes to loopback addresses.
 */

/** An XMPP server to load. Accounts are `${userPrefix}${i}@${domain}` with password `${password}`. */
export interface Target {
  /** label in tables, e.g. "switchboard", "switchboard-2edges", "ejabberd" */
  name: string;
  /** one or more c2s endpoints (STARTTLS); clients are spread round-robin over them */
  endpoints: Array<{ host: string; port: number }>;
  domain: string;
  userPrefix: string;
  password: string;
  /** PIDs of the server processes, to read RSS (/proc/<pid>/status VmRSS) */
  serverPids: number[];
  /** true: do STARTTLS (default); false: plain (only for servers configured without TLS) */
  tls?: boolean;
}

export type ScenarioName = "idle" | "storm" | "chat";

export interface IdleSpec {
  scenario: "idle";
  /** connections to hold */
  connections: number;
  /** new connections started per second during the ramp */
  rampPerSecond: number;
  /** how long to hold once all are online, seconds */
  holdSeconds: number;
}

export interface StormSpec {
  scenario: "storm";
  /** clients that all start connecting at once (bounded concurrency of in-flight handshakes) */
  clients: number;
  /** max handshakes in flight from the load generator */
  concurrency: number;
  timeoutSeconds: number;
}

export interface ChatSpec {
  scenario: "chat";
  /** online users sending one-to-one messages to random online peers */
  users: number;
  /** offered rates to step through, messages per second (whole cluster) */
  rates: number[];
  /** seconds per step */
  stepSeconds: number;
  /** XEP-0198 on every client: "resume" enables it with resumption (default: off) */
  streamManagement?: "resume" | "ack";
}

export type ScenarioSpec = IdleSpec | StormSpec | ChatSpec;

export interface Failures {
  [kind: string]: number;
}

export interface IdleResult {
  scenario: "idle";
  connections: number;
  online: number;
  secondsToOnline: number;
  rssBeforeBytes: number;
  rssAfterBytes: number;
  bytesPerConnection: number;
  failures: Failures;
}

export interface StormResult {
  scenario: "storm";
  clients: number;
  succeeded: number;
  loginsPerSecond: number;
  secondsUntilAllOnline: number;
  /** server CPU (user + system, all its processes) per successful login; absent without server PIDs */
  serverCpuMsPerLogin?: number;
  failures: Failures;
}

export interface ChatStep {
  offeredPerSecond: number;
  sentPerSecond: number;
  deliveredPerSecond: number;
  latencyMs: { p50: number; p99: number; max: number };
  lost: number;
}

export interface ChatResult {
  scenario: "chat";
  users: number;
  steps: ChatStep[];
  /** highest delivered rate over the steps */
  saturationPerSecond: number;
  failures: Failures;
}

export type ScenarioResult = IdleResult | StormResult | ChatResult;
