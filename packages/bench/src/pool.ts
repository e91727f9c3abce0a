/** Shared plumbing of the scenarios: logging users in, pacing, closing, aborting. */
import net from "node:net";
import { LoadClient, type LoadClientOptions } from "./client.js";
import { failureKindOf } from "./errors.js";
import { countFailure, serverCpuMs } from "./stats.js";
import type { Failures, Target } from "./types.js";

export interface RunOptions {
  log?: (line: string) => void;
  signal?: AbortSignal;
  /**
   * Spread IPv4 clients over source addresses 127.0.0.1..127.0.0.N (default 8), so that one
   * source address's ephemeral port range (~28k on Linux) never limits the connection count.
   */
  sourceAddresses?: number;
  /** handshake timeout per connection in ms (default 30 s; the storm uses its own deadline) */
  handshakeTimeoutMs?: number;
}

export type StanzaHandlers = Pick<LoadClientOptions, "onStanza" | "onClose" | "streamManagement">;

/** Log user `${prefix}${index}` in on endpoint index mod N, from a source address chosen by index. */
export function connectUser(target: Target, index: number, run: RunOptions, extra: StanzaHandlers & { timeoutMs?: number } = {}): Promise<LoadClient> {
  const endpoint = target.endpoints[index % target.endpoints.length]!;
  const spread = Math.max(1, Math.min(254, run.sourceAddresses ?? 8));
  const localAddress = net.isIPv4(endpoint.host) ? `127.0.0.${1 + (index % spread)}` : undefined;
  return LoadClient.connect({
    host: endpoint.host,
    port: endpoint.port,
    domain: target.domain,
    username: `${target.userPrefix}${index}`,
    password: target.password,
    resource: `load${index}`,
    tls: target.tls !== false,
    localAddress,
    timeoutMs: extra.timeoutMs ?? run.handshakeTimeoutMs ?? 30_000,
    signal: run.signal,
    onStanza: extra.onStanza,
    onClose: extra.onClose,
    streamManagement: extra.streamManagement,
  });
}

export interface LoginOutcome {
  clients: LoadClient[];
  failures: Failures;
  /** ms from start until the last successful login */
  lastSuccessMs: number;
  /** ms from start until every attempt settled */
  elapsedMs: number;
}

/**
 * Log users [0, count) in with at most `concurrency` handshakes in flight. Attempts not started
 * before the deadline count as 'timeout'. Never rejects: failures are counted by kind.
 */
export async function loginMany(
  target: Target,
  count: number,
  concurrency: number,
  run: RunOptions,
  extra: StanzaHandlers & { deadlineMs?: number; onProgress?: (online: number) => void } = {},
): Promise<LoginOutcome> {
  const started = performance.now();
  const deadline = extra.deadlineMs === undefined ? Infinity : started + extra.deadlineMs;
  const outcome: LoginOutcome = { clients: [], failures: {}, lastSuccessMs: 0, elapsedMs: 0 };
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const index = next++;
      const left = deadline - performance.now();
      if (left <= 0 || run.signal?.aborted) {
        countFailure(outcome.failures, run.signal?.aborted ? "aborted" : "timeout");
        continue;
      }
      try {
        const client = await connectUser(target, index, run, { ...extra, timeoutMs: Number.isFinite(left) ? Math.ceil(left) : undefined });
        outcome.clients.push(client);
        outcome.lastSuccessMs = performance.now() - started;
        extra.onProgress?.(outcome.clients.length);
      } catch (err) {
        countFailure(outcome.failures, failureKindOf(err));
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, count)) }, worker));
  outcome.elapsedMs = performance.now() - started;
  return outcome;
}

/**
 * Token-bucket pacing: calls emit(n) about every millisecond so that `rate` events per second
 * are emitted in total, in batches (never one timer per event). The bucket holds at most 50 ms
 * of tokens, so a stalled event loop does not turn into an unbounded burst. Stops after
 * `total` events, after `durationMs`, or on abort.
 */
export async function pace(opts: { rate: number; total?: number; durationMs?: number; signal?: AbortSignal; emit: (n: number) => void }): Promise<{ emitted: number; elapsedMs: number }> {
  const started = performance.now();
  const total = opts.total ?? Infinity;
  const duration = opts.durationMs ?? Infinity;
  const capacity = Math.max(1, opts.rate * 0.05);
  let tokens = Math.min(1, capacity);
  let last = started;
  let emitted = 0;
  while (emitted < total && !opts.signal?.aborted) {
    const now = performance.now();
    if (now - started >= duration) break;
    tokens = Math.min(capacity, tokens + ((now - last) * opts.rate) / 1000);
    last = now;
    const n = Math.min(Math.floor(tokens), total - emitted);
    if (n > 0) {
      tokens -= n;
      emitted += n;
      opts.emit(n);
    }
    await new Promise((r) => setTimeout(r, 1));
  }
  return { emitted, elapsedMs: performance.now() - started };
}

/**
 * Waits until the server processes use less than `quietShare` of a core over `windowMs` (work
 * left from an earlier phase, such as a room's join announcements or the previous run's
 * departures, would otherwise be measured with the next phase), at most `maxMs`. Returns the
 * ms waited; at once when the server's CPU cannot be read.
 */
export async function waitForQuietServer(pids: readonly number[], opts: { quietShare?: number; windowMs?: number; maxMs?: number; signal?: AbortSignal } = {}): Promise<number> {
  const started = performance.now();
  const windowMs = opts.windowMs ?? 500;
  const quiet = opts.quietShare ?? 0.1;
  let before = serverCpuMs(pids);
  while (before !== undefined && performance.now() - started < (opts.maxMs ?? 30_000) && !opts.signal?.aborted) {
    await sleep(windowMs, opts.signal);
    const after = serverCpuMs(pids);
    if (after === undefined || after - before <= quiet * windowMs) break;
    before = after;
  }
  return performance.now() - started;
}

export async function closeAll(clients: Iterable<LoadClient>): Promise<void> {
  await Promise.all(Array.from(clients, (c) => c.close()));
}

/** Resolves after ms, or early when the signal fires. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted || ms <= 0) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  });
}

export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw signal.reason instanceof Error ? signal.reason : new Error("scenario aborted", { cause: signal.reason });
}

/** Calls fn every second until stopped (progress lines); unref'd so it never keeps Node alive. */
export function every(ms: number, fn: () => void): () => void {
  const timer = setInterval(fn, ms);
  timer.unref();
  return () => clearInterval(timer);
}
