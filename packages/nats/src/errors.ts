/**
 * Typed errors of the NATS stanza bus. Callers (Host.deliver) map them to a stanza error for the
 * sender (RFC 6120 §8.3.3.19 <service-unavailable/> / §8.3.3.13 <recipient-unavailable/>) rather
 * than dropping the stanza silently. Match on `name` so library code need not import this adapter.
 */

export type BusUnavailableReason =
  /** close() was called, or the NATS client gave up */
  | "closed"
  /** NATS is unreachable and the bounded reconnect buffer cannot hold this stanza */
  | "buffer-full"
  /** a checked publish needs a live connection and there is none right now */
  | "disconnected"
  /** the NATS client refused the message (e.g. larger than the server's max_payload) */
  | "rejected";

export class BusUnavailableError extends Error {
  override name = "BusUnavailableError";
  constructor(
    readonly reason: BusUnavailableReason,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** A node id or envelope that cannot be expressed as a NATS subject or headers. */
export class InvalidBusEnvelopeError extends Error {
  override name = "InvalidBusEnvelopeError";
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** publishChecked: nobody subscribes to the node's subject, or it did not acknowledge in time. */
export class NodeUnreachableError extends Error {
  override name = "NodeUnreachableError";
  constructor(
    readonly nodeId: string,
    readonly reason: "no-subscriber" | "timeout",
    options?: { cause?: unknown },
  ) {
    super(`node ${nodeId} is unreachable on the bus (${reason})`, options);
  }
}
