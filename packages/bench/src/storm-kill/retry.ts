/**
 * How a reconnecting storm client decides when to try again, and how each failed attempt is
 * counted. The backoff is exponential with "equal jitter" (half the step fixed, half random), so
 * no two clients retry in lockstep and no retry after a failure is immediate; it is bounded by
 * `maxMs`. A server that says when to come back (a retry hint: Switchboard's admission control
 * writes "try again in N s" in the <text/> of <temporary-auth-failure/>) is believed instead.
 */
import { LoadClientError } from "../errors.js";

export interface Backoff {
  /** the first step after a failure (ms) */
  baseMs: number;
  /** the largest step (ms) */
  maxMs: number;
}

/** Delay before attempt number `failures + 1`, after `failures` consecutive failures (≥ 1). */
export function backoffDelayMs(b: Backoff, failures: number, random: () => number = Math.random): number {
  const step = Math.min(b.maxMs, b.baseMs * 2 ** Math.min(30, Math.max(0, failures - 1)));
  return Math.round(step / 2 + random() * (step / 2));
}

/**
 * Failure kinds of a reconnect attempt. Only "refused" and "connect-reset" (the server is down,
 * or was dying as we connected) and "paced" (the server asked us to come back later) are what a storm should cost; every other
 * kind is a failure of the server under test (or of the loader) that the report points out.
 */
export type AttemptFailure =
  | "refused" // ECONNREFUSED: nothing listens on the port (the server is down or not up yet)
  | "connect-reset" // ECONNRESET before the TCP connect completed: a listener that went away with our SYN queued (the dying process, likely)
  | "paced" // <temporary-auth-failure/>, or a stream error telling us to retry (admission control)
  | "timeout" // the handshake did not end within its timeout
  | "reset" // the connection was reset or closed during the handshake
  | "tls"
  | "auth" // a SASL failure that is not temporary
  | "bind"
  | `stream-error:${string}` // a stream error without a retry hint
  | "other";

export const ACCEPTABLE_FAILURES: ReadonlySet<string> = new Set(["refused", "connect-reset", "paced"]);

/** Stream errors (RFC 6120 §4.9.3) whose meaning is "not now, come back": a retry is the answer. */
const PACING_STREAM_ERRORS = new Set(["resource-constraint", "see-other-host", "system-shutdown"]);

export function classifyAttempt(err: unknown): AttemptFailure {
  if (!(err instanceof LoadClientError)) return "other";
  const code = (err.cause as { code?: string } | undefined)?.code;
  if (err.kind === "connect") return code === "ECONNREFUSED" ? "refused" : code === "ECONNRESET" ? "connect-reset" : "reset";
  if (err.kind === "auth") return err.condition === "temporary-auth-failure" ? "paced" : "auth";
  if (err.kind.startsWith("stream-error:")) {
    if (PACING_STREAM_ERRORS.has(err.condition ?? "") || retryHintMs(err) !== undefined) return "paced";
    return err.kind as AttemptFailure;
  }
  if (err.kind === "timeout" || err.kind === "tls" || err.kind === "bind") return err.kind;
  if (err.kind === "closed") return "reset";
  return "other";
}

/** "try again in 3 s" / "in 2 min" (Switchboard's retryHint wording) in the failure's text, in ms. */
export function retryHintMs(err: unknown): number | undefined {
  const text = err instanceof LoadClientError ? err.text : undefined;
  const m = text ? /try again in (\d+(?:\.\d+)?) ?(s|min)\b/i.exec(text) : null;
  return m ? Math.round(Number(m[1]) * (m[2]!.toLowerCase() === "min" ? 60_000 : 1000)) : undefined;
}
