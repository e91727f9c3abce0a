/** Options and status types of NatsStanzaBus, and the nats.js client settings it uses. */
import type { ConnectionOptions } from "nats";

export interface BusLog {
  warn(obj: unknown, msg?: string): void;
  info(obj: unknown, msg?: string): void;
}

export interface NatsStanzaBusOptions {
  /** first subject token(s); default "sb" */
  subjectPrefix?: string;
  /** bound of stanzas held while NATS is unreachable; default 8 MiB */
  reconnectBufferBytes?: number;
  log?: BusLog;
}

export interface NatsBusConnectOptions extends NatsStanzaBusOptions {
  servers: string | string[];
  /** client name shown by the NATS monitoring endpoints, e.g. the node id */
  name?: string;
  /** pause between reconnect attempts to one server; default 250 ms */
  reconnectTimeWaitMs?: number;
  /** try servers in random order (spreads edges over a cluster); default true */
  randomizeServers?: boolean;
  /** a short-lived client (the admin CLI): the first connect fails when NATS does not answer, no reconnects */
  oneShot?: boolean;
}

export interface BusStatus {
  /** a live connection to a NATS server: /readyz should report ready */
  connected: boolean;
  /** lost (or not yet established) and retrying */
  reconnecting: boolean;
  /** bytes accepted by publish and waiting for the connection */
  pendingBytes: number;
  closed: boolean;
}

export type BusStatusListener = (status: BusStatus, event: string) => void;

export const DEFAULT_RECONNECT_BUFFER_BYTES = 8 * 1024 * 1024;

export function clientOptions(opts: NatsBusConnectOptions): ConnectionOptions {
  return {
    servers: opts.servers,
    name: opts.name,
    noRandomize: opts.randomizeServers === false,
    maxReconnectAttempts: -1,
    reconnectTimeWait: opts.reconnectTimeWaitMs ?? 250,
    reconnectJitter: 100,
    // Retry the first connect too instead of failing: the edge may start before NATS.
    waitOnFirstConnect: true,
    // Detect a half-open TCP link (server host gone) within ~30 s instead of the 2 min default.
    pingInterval: 10_000,
    maxPingOut: 3,
    ...(opts.oneShot ? { waitOnFirstConnect: false, maxReconnectAttempts: 0, timeout: 3_000 } : {}),
  };
}

export async function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
