/**
 * XEP-0280 §6 (which messages are carbon-copied) and §5 (the <sent/>/<received/> wrappers with
 * XEP-0297 forwarding).
 */
import { NS_CARBONS, NS_CLIENT, NS_FORWARD, NS_HINTS, parseFrame, x, type Element } from "@switchboard/xml";
import type { SessionInfo } from "@switchboard/core";
import { messageType } from "../message/delivery.js";

/** XEP-0280 §7 opt-out: <private/>, or the XEP-0334 §4.3 <no-copy/> hint. */
export function isPrivate(stanza: Element): boolean {
  return stanza.getChild("private", NS_CARBONS) !== undefined || stanza.getChild("no-copy", NS_HINTS) !== undefined;
}

/**
 * XEP-0280 §6: chat messages, and normal messages that carry a body; never groupchat, headline
 * or error, never a message that is itself a carbon (§10: carbons of carbons would loop).
 * The private opt-out is checked by the caller, which may have stripped the element already.
 */
export function isCarbonEligible(stanza: Element): boolean {
  const type = messageType(stanza);
  const eligibleType = type === "chat" || (type === "normal" && stanza.getChild("body") !== undefined);
  if (!eligibleType) return false;
  return !stanza.getChild("sent", NS_CARBONS) && !stanza.getChild("received", NS_CARBONS);
}

/** Resources with carbons enabled that can receive a copy. */
export function carbonsEnabled(info: SessionInfo): boolean {
  return info.available && info.ext?.carbons === true;
}

/**
 * `<message from=bare to=full type=…><sent|received xmlns=carbons><forwarded xmlns=forward>
 * <message xmlns='jabber:client' …original…/></forwarded></…></message>` (XEP-0280 §5.2, §5.3).
 * The wrapper comes from the account's bare JID, so clients can trust it (§11).
 */
export function carbonCopy(direction: "sent" | "received", original: Element, ownerBare: string, targetFull: string): Element {
  const inner = parseFrame(original.toString());
  inner.attrs.xmlns = NS_CLIENT;
  return x(
    "message",
    { from: ownerBare, to: targetFull, type: original.attrs.type ?? "normal" },
    x(direction, { xmlns: NS_CARBONS }, x("forwarded", { xmlns: NS_FORWARD }, inner)),
  );
}
