/**
 * Which undeliverable messages XEP-0160 storage keeps, and the XEP-0203 stamp they carry.
 */
import { NS_DELAY, NS_HINTS, parseFrame, x, type Element } from "@switchboard/xml";
import { messageType } from "../message/delivery.js";

/** XEP-0085 chat state notifications. */
const NS_CHATSTATES = "http://jabber.org/protocol/chatstates";

/**
 * XEP-0160 §3: store chat and normal messages only (never headline, groupchat or error);
 * XEP-0334 §4.2: honour <no-store/>; like Prosody and ejabberd, skip messages that carry nothing
 * but chat states (XEP-0085 §5.5 notifications are transient and stale by the next login).
 */
export function isStorable(stanza: Element): boolean {
  const type = messageType(stanza);
  if (type !== "chat" && type !== "normal") return false;
  if (stanza.getChild("no-store", NS_HINTS)) return false;
  if (stanza.getChild("body")) return true;
  const payload = stanza.getChildElements().filter((c) => !isTransient(c));
  return payload.length > 0;
}

/** Children that alone do not make a message worth keeping. */
function isTransient(child: Element): boolean {
  const ns = child.attrs.xmlns;
  return ns === NS_CHATSTATES || ns === NS_HINTS || child.name === "thread";
}

/** XEP-0082 DateTime in UTC with seconds precision: 2002-09-10T23:08:25Z. */
export function delayStamp(at: Date): string {
  return at.toISOString().replace(/\.\d{3}Z$/, "Z");
}

/**
 * A copy of the stanza with XEP-0203 <delay/> from the server. A delay put there earlier by
 * another entity (e.g. a remote server's own storage) is kept and no second one is added, so the
 * client sees the original send time.
 */
export function stampDelay(stanza: Element, domain: string, at: Date): Element {
  // Re-parse rather than share children: the original is still travelling through the router.
  const copy = parseFrame(stanza.toString());
  if (!stanza.getChild("delay", NS_DELAY)) copy.cnode(x("delay", { xmlns: NS_DELAY, from: domain, stamp: delayStamp(at) }));
  return copy;
}
