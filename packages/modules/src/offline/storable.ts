/**
 * The XEP-0203 stamp stored messages carry. Which messages are kept is the shared policy in
 * ../message/storable.ts.
 */
import { NS_DELAY, parseFrame, x, type Element } from "@switchboard/xml";

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
