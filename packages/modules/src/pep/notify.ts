/**
 * Event notifications (XEP-0060 §7.1.2, §7.2.2, §8.4.2) as XEP-0163 §4.3 sends them: from the
 * owner's bare JID, as headline messages, to each available resource — the owner's own and
 * those of contacts the owner shares presence with, as the access model permits — whose
 * verified entity capabilities (XEP-0115) carry `<node>+notify` (§4.3.1 "filtered
 * notifications"). A resource on another node gets it over the bus like any stanza
 * (Host.deliver). The last published item goes to a resource as soon as its caps are known
 * (§4.3.2: on coming online, and on the first caps).
 */
import { DEFAULT_LIMITS, parseFrame, x, type Element } from "@switchboard/xml";
import type { DeliveryOutcome, Host, LocalSession, PepItem, PepNodeConfig, SessionInfo } from "@switchboard/core";
import { capsDirectory } from "../caps/directory.js";
import { contactsMayReceive, sharesPresence } from "./access.js";
import { NS_PUBSUB_EVENT } from "./ns.js";

export const notifyFeature = (node: string) => `${node}+notify`;

/** An element the server itself serialized (a stored payload, an event body), whatever pep.maxItemBytes allows. */
export function parseOwn(xml: string): Element {
  return parseFrame(xml, { maxStanzaBytes: Math.max(DEFAULT_LIMITS.maxStanzaBytes, 3 * xml.length + 1024) });
}

/** `<item id=…>payload</item>` of a stored item (the payload was checked when published). */
export function itemElement(item: PepItem): Element {
  return x("item", { id: item.id }, item.xml ? parseOwn(item.xml) : undefined);
}

/** The resources that get notifications of `owner`'s `node` now. */
export async function audience(host: Host, owner: string, node: string, config: PepNodeConfig): Promise<SessionInfo[]> {
  const holders = [owner];
  if (contactsMayReceive(config)) {
    for (const item of await host.store.roster.list(owner)) {
      if (item.jid !== owner && sharesPresence(item) && host.isLocalDomain(item.jid.slice(item.jid.indexOf("@") + 1))) holders.push(item.jid);
    }
  }
  const caps = capsDirectory(host);
  const wanted = notifyFeature(node);
  const out: SessionInfo[] = [];
  for (const bare of holders) {
    for (const info of await host.registry.list(bare)) {
      if ((await caps.ofResource(info))?.has(wanted)) out.push(info);
    }
  }
  return out;
}

/** Sends `<event>{body}</event>` from the owner to every resource of the audience. */
export async function broadcastEvent(host: Host, owner: string, node: string, config: PepNodeConfig, body: Element): Promise<void> {
  // each target gets its own copy: nothing on the write path shares an element (CSI and stream
  // management keep what they hold, a transport may stamp what it writes)
  const xml = body.toString();
  let sent = 0;
  for (const target of await audience(host, owner, node, config)) {
    if (taken(await host.deliver(target, eventMessage(owner, target.jid, parseOwn(xml))))) sent++;
  }
  notified(host).add(sent);
}

/** A headline nobody could take is not stored or bounced (RFC 6121 §8.5.2.1.1 'headline'): it is just not counted. */
const taken = (outcome: DeliveryOutcome) => outcome !== "suppressed" && outcome !== "refused" && outcome !== "unreachable";

const counters = new WeakMap<Host, { add(n?: number): void }>();

/** Every PEP event written or handed to the bus, one per target resource (the counter made once per host). */
function notified(host: Host): { add(n?: number): void } {
  let counter = counters.get(host);
  if (!counter) counters.set(host, (counter = host.metrics.counter("switchboard_pep_notifications_total", { help: "XEP-0163 event notifications written or handed to the bus, one per target resource" })));
  return counter;
}

export function eventMessage(owner: string, to: string, body: Element): Element {
  return x("message", { from: owner, to, type: "headline" }, x("event", { xmlns: NS_PUBSUB_EVENT }, body));
}

/**
 * §4.3.2: a session whose caps just became known gets the last item of each node it wants, of
 * its own account and of every local contact whose presence it receives ('to' or 'both').
 */
export async function sendLastItems(host: Host, session: LocalSession, features: ReadonlySet<string>): Promise<void> {
  const wanted = new Set([...features].filter((f) => f.endsWith("+notify")).map((f) => f.slice(0, -"+notify".length)));
  if (wanted.size === 0) return;
  const me = session.jid.bare;
  const owners = [me];
  for (const item of await host.store.roster.list(me)) {
    const receives = item.subscription === "to" || item.subscription === "both";
    if (receives && item.jid !== me && host.isLocalDomain(item.jid.slice(item.jid.indexOf("@") + 1))) owners.push(item.jid);
  }
  const target = await host.registry.get(session.jid.full);
  if (target?.sessionId !== session.id) return;
  const held = await host.store.pep.nodesOf(owners);
  for (const owner of owners) {
    const nodes = (held.get(owner) ?? []).filter(({ node, config }) => wanted.has(node) && config.sendLastPublishedItem !== "never");
    if (nodes.length === 0) continue;
    // the owner's roster decides, as for any notification (access.ts)
    const contact = owner === me || sharesPresence(await host.store.roster.get(owner, me));
    for (const { node, config } of nodes) {
      if (owner !== me && !(contact && contactsMayReceive(config))) continue;
      const [last] = await host.store.pep.items(owner, node, 1);
      if (!last || session.closed) continue;
      if (taken(await host.deliver(target, eventMessage(owner, target.jid, x("items", { node }, itemElement(last)))))) notified(host).add(1);
    }
  }
}

/**
 * §4.3.2 for a new subscriber: once `owner` approved `contact`'s presence subscription, the
 * contact's available resources get the last item of each of the owner's nodes they want.
 */
export async function sendLastItemsTo(host: Host, owner: string, contact: string): Promise<void> {
  const nodes = (await host.store.pep.nodes(owner)).filter(({ config }) => contactsMayReceive(config) && config.sendLastPublishedItem !== "never");
  if (nodes.length === 0 || !sharesPresence(await host.store.roster.get(owner, contact))) return;
  const caps = capsDirectory(host);
  for (const target of await host.registry.list(contact)) {
    const features = await caps.ofResource(target);
    if (!features) continue;
    for (const { node } of nodes) {
      if (!features.has(notifyFeature(node))) continue;
      const [last] = await host.store.pep.items(owner, node, 1);
      if (last && taken(await host.deliver(target, eventMessage(owner, target.jid, x("items", { node }, itemElement(last)))))) notified(host).add(1);
    }
  }
}

