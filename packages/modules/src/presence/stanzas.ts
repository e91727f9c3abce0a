/**
 * Small presence helpers shared by the broadcast, probe and subscription code: copying and
 * re-addressing stanzas, reading the stored last presence, parsing <priority/> (RFC 6121 §4.7.2.3)
 * and delivering to a user's available resources (§8.5.2.1.1).
 */
import { Element, parseFrame } from "@switchboard/xml";
import { delivered, type Host, type SessionInfo } from "@switchboard/core";

export const SUBSCRIPTION_TYPES = ["subscribe", "subscribed", "unsubscribe", "unsubscribed"] as const;
export type SubscriptionType = (typeof SUBSCRIPTION_TYPES)[number];

export function isSubscriptionType(type: string | undefined): type is SubscriptionType {
  return (SUBSCRIPTION_TYPES as readonly string[]).includes(type ?? "");
}

/** RFC 6121 §4.7.1: the presence types a client may send. */
export function isKnownPresenceType(type: string | undefined): boolean {
  return type === undefined || type === "unavailable" || type === "probe" || type === "error" || isSubscriptionType(type);
}

/** Deep copy, so a stanza delivered to several resources is never shared or mutated. */
export function copyStanza(el: Element): Element {
  const copy = new Element(el.name, { ...el.attrs });
  for (const child of el.children) copy.cnode(typeof child === "string" ? child : copyStanza(child));
  return copy;
}

/** A copy of `el` with new addresses (undefined removes the attribute). */
export function readdressed(el: Element, from: string | undefined, to: string | undefined): Element {
  const copy = copyStanza(el);
  if (from === undefined) delete copy.attrs.from;
  else copy.attrs.from = from;
  if (to === undefined) delete copy.attrs.to;
  else copy.attrs.to = to;
  return copy;
}

/** The last available presence a resource broadcast, as kept in the registry; undefined if none or unreadable. */
export function storedPresence(info: SessionInfo): Element | undefined {
  if (!info.available || !info.presence) return undefined;
  try {
    return parseFrame(info.presence);
  } catch {
    return undefined;
  }
}

/**
 * The priority of a presence, RFC 6121 §4.7.2.3: an integer from -128 to +127, 0 when the
 * element is absent. This is the only reading of <priority/> in the server (the presence module
 * stores it in the registry, the offline module decides from it whether to flush): two readings
 * would let a resource count as negative for one and not for the other.
 *
 * - The jabber:client schema (RFC 6121 Appendix D) types the element as xs:byte, whose lexical
 *   form allows a leading '+' and surrounding XML whitespace: "+5" and " 5 " are simply 5.
 * - Not an integer at all ("5abc", "1.5", "high", an empty element): §4.7.2.3 gives no reading,
 *   so the value is ignored as if absent, i.e. 0. Refusing the presence with <bad-request/>
 *   would take a resource offline over a field that only orders resources.
 * - An integer out of range ("128", "-129"): clamped to the nearest bound. COMPAT: a client that
 *   sends 1000 wants a high priority, one that sends -1000 wants no bare-JID messages and no
 *   offline flush; reading either as 0 would demote the first and make the second eligible.
 */
export function parsePriority(presence: Element): number {
  const text = presence.getChildText("priority");
  if (text === null) return 0;
  const integer = /^[ \t\r\n]*([+-]?[0-9]+)[ \t\r\n]*$/.exec(text);
  if (!integer) return 0;
  const clamped = Math.max(-128, Math.min(127, Number(integer[1])));
  return clamped === 0 ? 0 : clamped; // never -0 ("-0" is a valid xs:byte)
}

/** Delivers a copy to every available resource of `bare`; returns how many got it. */
export async function deliverToAvailable(host: Host, bare: string, stanza: Element, except?: string): Promise<number> {
  let count = 0;
  for (const info of await host.registry.list(bare)) {
    if (!info.available || info.jid === except) continue;
    if (delivered(await host.deliver(info, copyStanza(stanza)))) count++;
  }
  return count;
}

/** The available resources of a user with their last presence. */
export async function availablePresences(host: Host, bare: string): Promise<Array<{ info: SessionInfo; presence: Element }>> {
  const out: Array<{ info: SessionInfo; presence: Element }> = [];
  for (const info of await host.registry.list(bare)) {
    const presence = storedPresence(info);
    if (presence) out.push({ info, presence });
  }
  return out;
}
