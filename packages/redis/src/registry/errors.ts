/**
 * Typed errors of the Redis session registry. A login that meets one answers with a temporary
 * error (RFC 6120 §8.3.3.19 <service-unavailable/> or §4.9.3.16 <reset/>, caller's choice) rather
 * than hanging: ARCHITECTURE.md "Redis unavailable: no process crashes … new logins get a
 * temporary error". Match on `name` so library code need not import this adapter.
 */
import { SessionLimitError } from "@switchboard/core";

export type RegistryUnavailableReason =
  /** the client is not connected (reconnecting or closed): failed fast, nothing was sent */
  | "disconnected"
  /** no reply within the deadline; the command may still run once Redis answers */
  | "timeout"
  /** Redis (or the client) answered with an error */
  | "failed"
  /** this node's liveness is not established (fenced, or Redis unreachable for longer than the TTL) */
  | "not-live";

export class RegistryUnavailableError extends Error {
  override name = "RegistryUnavailableError";
  constructor(
    readonly reason: RegistryUnavailableReason,
    readonly operation: string,
    options?: { cause?: unknown },
  ) {
    super(`session registry ${operation}: ${reason}`, options);
  }
}

/** Statuses in which ioredis would only queue a command until a reconnect that may never come. */
const DOWN_STATUSES = new Set(["reconnecting", "close", "end"]);

export interface StatusSource {
  readonly status: string;
}

/**
 * Runs one registry operation with a deadline, so no caller waits on Redis forever.
 * Fails fast while the client is known to be down: queueing writes in the offline queue would run
 * them late, after the caller already gave up (a late bind would then leave an entry for a stream
 * that was never opened).
 */
export function isDown(client: StatusSource): boolean {
  return DOWN_STATUSES.has(client.status);
}

export async function bounded<T>(
  client: StatusSource,
  operation: string,
  timeoutMs: number,
  run: (expired: () => boolean) => Promise<T>,
): Promise<T> {
  if (isDown(client)) throw new RegistryUnavailableError("disconnected", operation);
  let timer: NodeJS.Timeout | undefined;
  let isExpired = false;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      isExpired = true;
      reject(new RegistryUnavailableError("timeout", operation));
    }, timeoutMs);
  });
  try {
    // Promise.race subscribes to `run()`, so its late rejection after the deadline is handled.
    // A multi-step `run` checks expired() between steps so it stops once the caller gave up.
    return await Promise.race([run(() => isExpired), deadline]);
  } catch (error) {
    // a refusal is an answer, not an outage
    if (error instanceof RegistryUnavailableError || error instanceof SessionLimitError) throw error;
    throw new RegistryUnavailableError("failed", operation, { cause: error });
  } finally {
    clearTimeout(timer);
  }
}
