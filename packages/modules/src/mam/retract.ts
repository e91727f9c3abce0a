/**
 * XEP-0424 message retraction, as the archive applies it (§5.2 "Tombstones"): the retracted
 * message is replaced by a tombstone that keeps its addressing and id and says when it was
 * retracted, so a client paging through history shows "message retracted" in its place.
 */
import { parseFrame, tryParseJid, x } from "@switchboard/xml";
import type { Element } from "@switchboard/xml";

export const NS_RETRACT = "urn:xmpp:message-retract:1";

/** The id the message retracts (the original's origin-id or id), when it is a retraction. */
export function retractionTarget(stanza: Element): string | undefined {
  const id = stanza.getChild("retract", NS_RETRACT)?.attrs.id;
  return id === undefined || id === "" ? undefined : id;
}

/**
 * The tombstone of an archived message, or undefined when `sender` did not send it (§7: only the
 * original sender may retract; anyone else's retraction leaves the archive alone).
 */
export function tombstoneRetracted(xml: string, sender: string, _domain: string, at = new Date()): string | undefined {
  let original: Element;
  try {
    original = parseFrame(xml);
  } catch {
    return undefined;
  }
  const from = tryParseJid(original.attrs.from ?? "");
  if (!from || from.bare !== sender) return undefined;
  const { from: f, to, type, id } = original.attrs;
  return x("message", { from: f, to, type, id }, x("retracted", { xmlns: NS_RETRACT, stamp: at.toISOString() })).toString();
}
