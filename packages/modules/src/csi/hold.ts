/**
 * What CSI holds for an inactive client (XEP-0352 §6 leaves the policy to the server; this is
 * the one Prosody's mod_csi_simple and Conversations' users expect):
 * - urgent, written at once after everything held before it (so order is kept): every IQ,
 *   messages a person reads or must act on (a body, an encrypted payload, an invitation, a call
 *   proposal), errors, and subscription requests and answers;
 * - held: presence (coalesced: the latest per sender replaces what waited, an unavailable
 *   included, so nothing the contact last said is lost), and messages nobody needs to see at once
 *   (chat states, receipts and markers, PEP and pubsub events), in arrival order.
 */
import type { Element } from "@switchboard/xml";

const SUBSCRIPTION = new Set(["subscribe", "subscribed", "unsubscribe", "unsubscribed"]);
/** children that make a message urgent, by namespace (any element of it) or namespace + name */
const URGENT_CHILDREN: ReadonlyArray<[string, string?]> = [
  ["eu.siacs.conversations.axolotl", "encrypted"], // OMEMO (XEP-0384, legacy namespace)
  ["urn:xmpp:omemo:2", "encrypted"],
  ["jabber:x:conference", "x"], // direct MUC invitation (XEP-0249)
  ["urn:xmpp:jingle-message:0"], // call proposals (XEP-0353)
];

export function isUrgent(stanza: Element): boolean {
  if (stanza.name === "iq") return true;
  const type = stanza.attrs.type;
  if (type === "error") return true;
  if (stanza.name === "presence") return type !== undefined && SUBSCRIPTION.has(type);
  if (stanza.name !== "message") return true;
  for (const child of stanza.getChildElements()) {
    if (child.name === "body" || child.name === "subject") return true;
    const ns = child.attrs.xmlns ?? "";
    if (ns === "http://jabber.org/protocol/muc#user" && child.getChild("invite")) return true;
    if (URGENT_CHILDREN.some(([n, name]) => n === ns && (name === undefined || name === child.name))) return true;
  }
  return false;
}

/** The held stanzas of one inactive session, in the order they are to be written. */
export class HeldStanzas {
  private readonly items: Element[] = [];
  /** the presence held per sender (full JID), to replace it */
  private readonly presence = new Map<string, Element>();

  get size(): number {
    return this.items.length;
  }

  /** Holds a stanza; "coalesced" when it replaced a presence that waited. */
  hold(stanza: Element): "queued" | "coalesced" {
    if (stanza.name === "presence") {
      const from = stanza.attrs.from ?? "";
      const earlier = this.presence.get(from);
      this.presence.set(from, stanza);
      if (earlier) {
        this.items.splice(this.items.indexOf(earlier), 1);
        this.items.push(stanza);
        return "coalesced";
      }
    }
    this.items.push(stanza);
    return "queued";
  }

  /** Everything held, oldest first; the holder is empty afterwards. */
  take(): Element[] {
    this.presence.clear();
    return this.items.splice(0, this.items.length);
  }
}
