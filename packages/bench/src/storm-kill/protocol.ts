/**
 * What the storm-kill parent and its loader processes say to each other over the IPC channel
 * (child_process "ipc" stdio). A loader owns a slice of the clients; the parent only counts.
 * Times are Date.now() epoch ms, the one clock parent and children share.
 */
import type { Backoff } from "./retry.js";

export interface LoaderConfig {
  /** c2s endpoints; client i uses endpoints[i % length] (2 edges: split by port) */
  endpoints: Array<{ host: string; port: number }>;
  domain: string;
  userPrefix: string;
  password: string;
  /** this loader's users: indices [first, first + count) */
  first: number;
  count: number;
  /** client i connects from 127.0.0.(1 + i % sourceAddresses) */
  sourceAddresses: number;
  /** handshakes in flight per loader while the clients first log in (the storm itself is unpaced) */
  loginConcurrency: number;
  handshakeTimeoutMs: number;
  backoff: Backoff;
  /** a client stops retrying this long after it lost its connection (and counts as gave-up) */
  giveUpMs: number;
  /** the loader exits by itself after this long, whatever the parent says */
  lifetimeMs: number;
}

export type ParentMessage =
  | { type: "start"; config: LoaderConfig }
  /** reset the storm counters; answered with "armed" before the parent kills the servers */
  | { type: "arm" }
  | { type: "stop" };

export interface LoaderProgress {
  /** clients online now */
  online: number;
  /** since "arm": clients that lost their connection, and of those the ones online again */
  dropped: number;
  recovered: number;
  /** when the latest of the recovered came back online (0: none yet) */
  lastRecoveredAt: number;
  /** since "arm": connection attempts and failed ones by kind (retry.ts AttemptFailure) */
  attempts: number;
  failures: Record<string, number>;
  /** the first messages of each failure kind other than "refused" (what exactly went wrong) */
  samples: Record<string, string[]>;
  /** clients that stopped retrying (giveUpMs) */
  gaveUp: number;
}

export type LoaderMessage =
  | ({ type: "progress" } & LoaderProgress)
  /** every client of the slice logged in once (the storm can start) */
  | ({ type: "ready" } & LoaderProgress)
  | { type: "armed" }
  | { type: "error"; message: string };
