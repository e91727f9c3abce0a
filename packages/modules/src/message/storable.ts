/**
 * What may be kept for later when a message cannot be delivered now: one policy, shared by
 * offline storage (XEP-0160) and, later, the archive (XEP-0313), so they never disagree.
 *
 * - XEP-0334 hints win: `<store/>` stores, `<no-store/>` and `<no-permanent-store/>` never do.
 * - Kept: a body or a subject (RFC 6121 §5.2.3–4), and the payloads clients expect to find later
 *   even without a body: delivery receipts (XEP-0184), chat markers (XEP-0333), reactions
 *   (XEP-0444), retractions (XEP-0424), corrections (XEP-0308), end-to-end encrypted payloads
 *   (OMEMO XEP-0384, OpenPGP XEP-0373/0027), invitations (XEP-0249, XEP-0045 §7.8.2), file
 *   links and shares (XEP-0066, XEP-0447).
 * - A standalone chat-state notification (XEP-0085: `<composing/>`, `<active/>`, `<gone/>`…
 *   with nothing else but threading, ids or hints) is transient: stale by the next login, and not
 *   worth an error to the sender either (§5.5, server handling). Undeliverable, it is discarded:
 *   the one exception to "delivered, stored or bounced".
 * - Anything else keeps RFC 6121 §8.5.2.1.1's answer: `<service-unavailable/>` to the sender.
 */
import { NS_HINTS, type Element } from "@switchboard/xml";
import { messageType } from "./delivery.js";

export const NS_CHATSTATES = "http://jabber.org/protocol/chatstates";
const NS_STANZA_ID = "urn:xmpp:sid:0";

export type Storability =
  /** keep it (offline storage, archive) */
  | "store"
  /** a standalone chat state: drop it quietly when it cannot be delivered */
  | "transient"
  /** not kept: the sender gets the RFC 6121 error */
  | "none";

/** Payload namespaces that make a message worth keeping without a body. */
const KEPT_PAYLOADS: ReadonlySet<string> = new Set([
  "urn:xmpp:receipts", // XEP-0184
  "urn:xmpp:chat-markers:0", // XEP-0333
  "urn:xmpp:reactions:0", // XEP-0444
  "urn:xmpp:message-retract:1", // XEP-0424
  "urn:xmpp:message-retract:0",
  "urn:xmpp:fasten:0", // XEP-0422, carries XEP-0424 v0 retractions
  "urn:xmpp:message-correct:0", // XEP-0308
  "eu.siacs.conversations.axolotl", // OMEMO (XEP-0384 0.3)
  "urn:xmpp:omemo:2", // OMEMO (XEP-0384 0.8+)
  "urn:xmpp:openpgp:0", // XEP-0373
  "jabber:x:encrypted", // XEP-0027
  "jabber:x:conference", // XEP-0249 direct invitations
  "http://jabber.org/protocol/muc#user", // XEP-0045 §7.8.2 mediated invitations, declines
  "jabber:x:oob", // XEP-0066 out-of-band links
  "urn:xmpp:sfs:0", // XEP-0447 stateless file sharing
]);

/** Children that ride along with a chat state without making it anything more. */
function accompaniesChatState(child: Element): boolean {
  const ns = child.attrs.xmlns;
  return ns === NS_CHATSTATES || ns === NS_HINTS || ns === NS_STANZA_ID || child.name === "thread";
}

export function storability(stanza: Element): Storability {
  const type = messageType(stanza);
  if (type !== "chat" && type !== "normal") return "none"; // XEP-0160 §3: never headline, groupchat, error
  const children = stanza.getChildElements();
  const chatStateOnly = children.some((c) => c.attrs.xmlns === NS_CHATSTATES) && children.every(accompaniesChatState);
  if (stanza.getChild("no-store", NS_HINTS) || stanza.getChild("no-permanent-store", NS_HINTS)) return chatStateOnly ? "transient" : "none";
  if (stanza.getChild("store", NS_HINTS)) return "store";
  if (chatStateOnly) return "transient";
  for (const child of children) {
    const ns = child.attrs.xmlns;
    if (ns === undefined || ns === "jabber:client") {
      if (child.name === "body" || child.name === "subject") return "store";
    } else if (KEPT_PAYLOADS.has(ns)) return "store";
  }
  return "none";
}

export function isStorable(stanza: Element): boolean {
  return storability(stanza) === "store";
}

/** XEP-0085 §5.5: a standalone chat-state notification, never stored nor bounced when undeliverable. */
export function isStandaloneChatState(stanza: Element): boolean {
  return storability(stanza) === "transient";
}
