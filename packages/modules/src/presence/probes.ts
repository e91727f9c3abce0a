/**
 * Presence probes and presence "replays" (RFC 6121 §4.3): answering a probe from a subscribed
 * entity with the last presence of each available resource, the server-side probing done on
 * initial presence (§4.2.2) and the presence sent right after a subscription is approved or
 * cancelled (§3.1.5, §3.2.2, §3.3.3).
 */
import { x, type Element, bareOf } from "@switchboard/xml";
import type { Host, RosterItem, SessionInfo, StanzaEvent } from "@switchboard/core";
import { availablePresences, readdressed } from "./stanzas.js";

export function sendsPresenceTo(item: RosterItem | undefined): boolean {
  return item?.subscription === "from" || item?.subscription === "both";
}

export function receivesPresenceFrom(item: RosterItem | undefined): boolean {
  return item?.subscription === "to" || item?.subscription === "both";
}

/**
 * §4.3.2: a probe addressed to a local user is answered only for entities subscribed to the
 * user's presence (or the user itself); others learn nothing. Without available resources the
 * answer is a bare unavailable presence.
 */
export async function answerProbe(host: Host, ev: StanzaEvent): Promise<void> {
  const owner = ev.to.bare;
  if (ev.from.bare !== owner) {
    const item = await host.store.roster.get(owner, ev.from.bare);
    if (!sendsPresenceTo(item)) return;
  }
  let presences = await availablePresences(host, owner);
  if (ev.to.resource) presences = presences.filter((p) => p.info.jid === ev.to.full);
  if (presences.length === 0) {
    await host.router.route(x("presence", { type: "unavailable", from: ev.to.full, to: ev.from.full }));
    return;
  }
  for (const { info, presence } of presences) await host.router.route(readdressed(presence, info.jid, ev.from.full));
}

/** §3.1.5: once the contact may see the user's presence, send the current one from each resource. */
export async function sendCurrentPresence(host: Host, ownerBare: string, contact: string): Promise<void> {
  for (const { info, presence } of await availablePresences(host, ownerBare)) {
    await host.router.route(readdressed(presence, info.jid, contact));
  }
}

/** §3.2.2, §3.3.3: the contact lost the subscription, so it sees each resource go offline. */
export async function sendUnavailableFromAll(host: Host, ownerBare: string, contact: string): Promise<void> {
  for (const { info } of await availablePresences(host, ownerBare)) {
    await host.router.route(x("presence", { type: "unavailable", from: info.jid, to: contact }));
  }
}

/**
 * §4.2.2 and §3.1.3, for a resource that just sent initial presence: the presence of every
 * contact it is subscribed to, of its own other resources, and the subscription requests still
 * waiting for an answer. Local contacts are answered straight from the registry (the probe never
 * leaves the process); remote ones get a real probe from the user's bare JID.
 *
 * The local contacts' session lists are asked for all at once (issue 10, cheaper logins): after a
 * restart none is cached, and reading them one after another cost a login one registry round
 * trip per contact; together they go out in one (the reads of one tick share the connection's
 * write). Their presence is still delivered in roster order.
 */
export async function syncNewResource(host: Host, target: SessionInfo, roster: RosterItem[]): Promise<void> {
  const owner = bareOf(target.jid);
  const toTarget = (presence: Element, from: string) => host.deliver(target, readdressed(presence, from, target.jid));

  const watched = roster.filter(receivesPresenceFrom);
  const local = watched.filter((item) => host.isLocalDomain(domainOf(item.jid)));
  const presences = await Promise.all(local.map((item) => availablePresences(host, item.jid)));
  for (const contact of presences) for (const { info, presence } of contact) await toTarget(presence, info.jid);
  for (const item of watched) {
    if (!host.isLocalDomain(domainOf(item.jid))) await host.router.route(x("presence", { type: "probe", from: owner, to: item.jid }));
  }
  for (const { info, presence } of await availablePresences(host, owner)) {
    if (info.jid !== target.jid) await toTarget(presence, info.jid);
  }
  for (const item of roster) {
    if (!item.askIn) continue;
    const request = x("presence", { type: "subscribe", from: item.jid, to: owner }, item.askInStatus !== undefined && x("status", null, item.askInStatus));
    await host.deliver(target, request);
  }
}


function domainOf(bare: string): string {
  const at = bare.indexOf("@");
  return at === -1 ? bare : bare.slice(at + 1);
}
