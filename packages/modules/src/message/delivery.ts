/**
 * RFC 6121 §8.5.2 delivery rules for a local account's bare JID, written once so the message
 * module and the carbons module (XEP-0280 §5.3, "who already got the original") agree.
 */
import type { Element } from "@switchboard/xml";
import type { SessionInfo } from "@switchboard/core";

export type MessageType = "normal" | "chat" | "groupchat" | "headline" | "error";

const KNOWN_TYPES: ReadonlySet<string> = new Set(["normal", "chat", "groupchat", "headline", "error"]);

/** RFC 6121 §5.2.2: a missing type is 'normal', and so is an unknown one. */
export function messageType(stanza: Element): MessageType {
  const type = stanza.attrs.type;
  return type !== undefined && KNOWN_TYPES.has(type) ? (type as MessageType) : "normal";
}

/** RFC 6121 §8.5.2.1: only available resources with non-negative priority get bare-JID stanzas. */
export function isEligibleForBare(info: SessionInfo): boolean {
  return info.available && info.priority >= 0;
}

/**
 * The resources that directly receive a message sent to the bare JID.
 *
 * - chat / normal / error: every eligible resource sharing the highest priority
 *   (RFC 6121 §8.5.2.1.1 lets the server pick one or all; like Prosody and ejabberd we pick all,
 *   so no client misses a message because of a priority tie).
 * - headline: every eligible resource (§8.5.2.1.1 "headline").
 * - groupchat: nobody (§8.5.2.1.1 says to answer with an error).
 */
export function bareRecipients(resources: readonly SessionInfo[], type: MessageType): SessionInfo[] {
  if (type === "groupchat") return [];
  const eligible = resources.filter(isEligibleForBare);
  if (type === "headline") return eligible;
  let top = -Infinity;
  for (const info of eligible) top = Math.max(top, info.priority);
  return eligible.filter((info) => info.priority === top);
}
