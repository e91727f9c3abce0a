/**
 * What became of a stanza handed to one resource (Host.deliver): the session's own outcome
 * (session.ts) when the stream is held here, or one of
 * - bus: handed to the bus for the node that holds the stream (which re-routes it if that
 *   stream cannot take it, bus-receiver.ts);
 * - suppressed: a `stanza/deliver` hook vetoed it on purpose (blocking);
 * - unreachable: no stream (gone, node dead, bus refusing).
 */
import type { SendOutcome } from "./session.js";

export type DeliveryOutcome = SendOutcome | "bus" | "suppressed" | "unreachable";

/** True when the stanza was taken care of; false when the caller must fall back. */
export function delivered(outcome: DeliveryOutcome | "offline"): boolean {
  return outcome !== "refused" && outcome !== "unreachable" && outcome !== "offline";
}
