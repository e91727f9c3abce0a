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

export type ScenarioName = "idle" | "storm" | "chat" | "muc";

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

/**
 * muc: one room (XEP-0045) of `occupants` occupants, `senders` of whom send groupchat messages;
 * every occupant, the senders included, receives a copy of each from the room.
 */
export interface MucSpec {
  scenario: "muc";
  /** occupants of the room (one connection each): users 0 .. occupants-1, user 0 creates it */
  occupants: number;
  /** occupants that send (users 0 .. senders-1), round-robin */
  senders: number;
  /** seconds of the saturation phase (as fast as the server delivers); 0 skips it */
  saturationSeconds: number;
  /**
   * fixed offered rates to measure latency at, in groupchat messages per second into the room
   * (each is delivered `joined` times); "half" is half of this run's saturation
   */
  rates: Array<number | "half">;
  /** seconds per fixed-rate step */
  stepSeconds: number;
  /** saturation: messages each sender keeps in flight (default MUC_DEFAULT_WINDOW) */
  window?: number;
  /** room local part (default: a fresh random name per run) */
  room?: string;
}

export type ScenarioSpec = IdleSpec | StormSpec | ChatSpec | MucSpec;

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
  /**
   * the server processes' CPU time (user + system, /proc) over the step and its drain, per
   * delivered message, in µs; absent when the target has no local PIDs
   */
  serverCpuUsPerMessage?: number;
}

export interface ChatResult {
  scenario: "chat";
  users: number;
  steps: ChatStep[];
  /** highest delivered rate over the steps */
  saturationPerSecond: number;
  failures: Failures;
}

/** One phase of the muc scenario: saturation (closed loop) or a fixed offered rate. */
export interface MucStep {
  /** messages/s offered into the room; null for the saturation phase (senders keep a window in flight) */
  offeredPerSecond: number | null;
  /** groupchat messages sent per second */
  sentPerSecond: number;
  /** copies received by occupants per second (the fan-out) */
  deliveredPerSecond: number;
  sent: number;
  delivered: number;
  /** copies expected (sent × joined) that never arrived within the drain */
  lostCopies: number;
  /** occupants that received fewer copies than were sent */
  occupantsMissingCopies: number;
  /** send → receipt, over every copy */
  latencyMs: { p50: number; p99: number; max: number };
  /** send → receipt of each message's first copy: the part of the latency before the fan-out */
  firstCopyLatencyMs: { p50: number; p99: number };
  /** server CPU (user + system, all its processes) over the phase and its drain; absent without server PIDs */
  serverCpuSeconds?: number;
  /** copies delivered per second of server CPU: the fan-out one core would do */
  deliveredPerServerCpuSecond?: number;
  /** server CPU over the phase's wall time: near 1 (one core) means the server set the pace */
  serverCpuShare?: number;
  /**
   * CPU of the load generator (this process) over the phase and its drain, as a share of the
   * phase's wall time: near 1 means the loader's core, not the server, set the pace
   */
  loaderCpuShare: number;
}

export interface MucResult {
  scenario: "muc";
  occupants: number;
  /** occupants that were in the room (self-presence received) when sending began */
  joined: number;
  senders: number;
  /** seconds from the first join until every occupant had joined */
  joinSeconds: number;
  saturation?: MucStep;
  steps: MucStep[];
  /** the saturation phase's delivered copies/s (0 when skipped) */
  saturationPerSecond: number;
  failures: Failures;
}

export type ScenarioResult = IdleResult | StormResult | ChatResult | MucResult;
