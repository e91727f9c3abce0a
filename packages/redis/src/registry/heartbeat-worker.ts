/**
 * The node's heartbeat, off the main event loop (issue 10 item 1: "a busy edge is never declared
 * dead while it serves"). liveness.ts beats on the main thread; during a reconnect storm, a long
 * GC pause or a purge of many sessions that thread can be busy for longer than the alive key's
 * TTL (5 s), and the cluster would purge an edge that is still serving its clients. So a
 * worker_thread with its own Redis connection keeps extending the alive key as well.
 *
 * What it may do, so that fencing (liveness.ts) stays exactly as it was:
 * - It only extends: PEXPIRE when the key still holds this process's token, nothing otherwise.
 *   It never re-creates an expired key and never takes a lock; deciding between "expired but
 *   nobody acted" and "purged: fence" stays with the main thread's refresh.
 * - It dies with the process: a kill -9 (or a crash) ends every thread, so a dead edge stops
 *   beating exactly as before and is purged within ttl + heartbeat.
 * - It stops when the main thread looks stuck rather than busy: the main thread posts a tick
 *   every heartbeat, and with no tick for MAIN_STALL_MS (15 s, three TTLs) the worker stops
 *   extending, so the key expires and the cluster purges the node; the main thread, if it ever
 *   comes back, finds itself fenced and closes its streams. 15 s: a busy spell of an edge that
 *   still serves is a fraction of a second to a few seconds (the overload guard pauses reads at
 *   250 ms of lag; the longest stop-the-world pauses measured are seconds), while a single task
 *   that holds the loop that long serves nobody — and a wedged node costs its users undelivered
 *   messages for 15 s + TTL before it is purged, not for ever.
 *
 * The worker is plain JavaScript evaluated from a string (no TypeScript loader in the thread,
 * so it runs the same under tsx, vitest and a build) and loads ioredis by the path this module
 * resolves. If the thread cannot start, the main thread's heartbeat carries on alone (logged).
 */
import { createRequire } from "node:module";
import { Worker } from "node:worker_threads";
import type { Logger } from "@switchboard/core";

export const MAIN_STALL_MS = 15_000;

export interface HeartbeatWorkerOptions {
  redisUrl: string;
  /** the alive key and this process's token in it */
  aliveKey: string;
  token: string;
  ttlMs: number;
  heartbeatMs: number;
  /** default MAIN_STALL_MS */
  mainStallMs?: number;
  /** deadline of one Redis command */
  commandTimeoutMs: number;
  connectionName: string;
  log: Logger;
  /** the worker extended the key with a command sent at `sentAt` */
  onBeat: (sentAt: number) => void;
}

/** Extends KEYS[1] by ARGV[2] ms only while it holds ARGV[1]. */
const EXTEND = `if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end return 0`;

const WORKER_SOURCE = `
const { parentPort, workerData: d } = require("node:worker_threads");
const loaded = require(d.ioredis);
const Redis = loaded.default || loaded;
const redis = new Redis(d.redisUrl, { connectionName: d.connectionName, maxRetriesPerRequest: 1, commandTimeout: d.commandTimeoutMs, enableOfflineQueue: false });
redis.on("error", () => {});
let lastTick = Date.now();
let live = false;
let inFlight = false;
let stalled = false;
const timer = setInterval(async () => {
  if (!live || inFlight || redis.status !== "ready") return;
  if (Date.now() - lastTick > d.mainStallMs) {
    if (!stalled) parentPort.postMessage({ type: "stalled", sinceMs: Date.now() - lastTick });
    stalled = true;
    return;
  }
  stalled = false;
  inFlight = true;
  const sentAt = Date.now();
  try {
    if ((await redis.eval(d.script, 1, d.aliveKey, d.token, d.ttlMs)) === 1) parentPort.postMessage({ type: "beat", sentAt });
  } catch {
    // the main thread's heartbeat reports Redis trouble; this one just tries again
  } finally {
    inFlight = false;
  }
}, d.heartbeatMs);
parentPort.on("message", (m) => {
  if (m.type === "tick") lastTick = Date.now();
  else if (m.type === "live") live = m.live;
  else if (m.type === "stop") {
    clearInterval(timer);
    live = false;
    redis.quit().catch(() => {}).finally(() => { redis.disconnect(); parentPort.close(); });
  }
});
`;

export class HeartbeatWorker {
  private worker?: Worker;
  private ticker?: NodeJS.Timeout;
  private exited?: Promise<void>;

  constructor(private readonly opts: HeartbeatWorkerOptions) {}

  start(): void {
    if (this.worker) return;
    const o = this.opts;
    try {
      this.worker = new Worker(WORKER_SOURCE, {
        eval: true,
        workerData: {
          ioredis: createRequire(import.meta.url).resolve("ioredis"),
          redisUrl: o.redisUrl, aliveKey: o.aliveKey, token: o.token, ttlMs: o.ttlMs, heartbeatMs: o.heartbeatMs,
          mainStallMs: o.mainStallMs ?? MAIN_STALL_MS, commandTimeoutMs: o.commandTimeoutMs, connectionName: `${o.connectionName}:heartbeat`, script: EXTEND,
        },
        // the thread needs none of the process's loaders or flags
        execArgv: [],
      });
    } catch (err) {
      o.log.warn({ err }, "heartbeat worker could not start; the heartbeat runs on the main thread only");
      return;
    }
    const worker = this.worker;
    worker.unref();
    worker.on("message", (m: { type: string; sentAt?: number; sinceMs?: number }) => {
      if (m.type === "beat" && m.sentAt !== undefined) o.onBeat(m.sentAt);
      else if (m.type === "stalled") o.log.error({ sinceMs: m.sinceMs }, "main thread stuck: heartbeat worker stops extending the alive key");
    });
    worker.on("error", (err) => o.log.warn({ err }, "heartbeat worker failed; the heartbeat runs on the main thread only"));
    this.exited = new Promise((resolve) => worker.once("exit", () => resolve()));
    this.ticker = setInterval(() => worker.postMessage({ type: "tick" }), o.heartbeatMs);
    this.ticker.unref();
  }

  /** Extend the key (true) once the node is live; stop (false) while it is not (fenced, stopping). */
  live(on: boolean): void {
    this.worker?.postMessage({ type: "live", live: on });
  }

  /** Stops the thread; resolves once it exited (at most about a second). */
  async stop(): Promise<void> {
    clearInterval(this.ticker);
    const worker = this.worker;
    if (!worker) return;
    this.worker = undefined;
    worker.postMessage({ type: "live", live: false });
    worker.postMessage({ type: "stop" });
    const timer = setTimeout(() => void worker.terminate(), 1_000);
    await this.exited;
    clearTimeout(timer);
  }
}
