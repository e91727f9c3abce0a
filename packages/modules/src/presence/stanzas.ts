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
 * RFC 6121 §4.7.2.3: priority is an integer from -128 to 127, 0 when absent. Out-of-range values
 * are clamped and unparseable ones read as 0 (COMPAT: clients send '+5' or ' 5 ' in the wild).
 */
export function parsePriority(presence: Element): number {
  const text = presence.getChildText("priority");
  if (text === null) return 0;
  const trimmed = text.trim();
  if (!/^[+-]?\d{1,10}$/.test(trimmed)) return 0;
  return Math.max(-128, Math.min(127, Number(trimmed)));
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
