/**
 * Presence broadcast, RFC 6121 §4.2 (initial presence), §4.4 (subsequent presence), §4.5
 * (unavailable presence) and §4.6 (directed presence). The audience of a broadcast is every
 * contact with a 'from' or 'both' subscription, addressed to its bare JID so its own server
 * fans it out, plus all of the user's available resources, including the sender (§4.2.2: an
 * entity is implicitly subscribed to its own presence).
 */
import { x, type Element, bareOf } from "@switchboard/xml";
import type { Host, LocalSession, RosterItem, SessionInfo, StanzaEvent } from "@switchboard/core";
import { PRESENCE_STATE } from "./session-state.js";
import { sendsPresenceTo, syncNewResource } from "./probes.js";
import { parsePriority, readdressed } from "./stanzas.js";
import type { PresencePacing } from "./pacing.js";

export interface PresenceLimits {
  /** most distinct JIDs one session tracks for directed presence (§4.6); beyond, still delivered, not tracked */
  maxDirected: number;
}

/** "presence/self": presence without 'to' from a client; `pacing` coalesces fast changes (pacing.ts). */
export async function handleSelfPresence(host: Host, ev: StanzaEvent, pacing?: PresencePacing): Promise<boolean> {
  if (!ev.origin) return false;
  const type = ev.stanza.attrs.type;
  const subsequent = ev.origin.state(PRESENCE_STATE).available;
  if (type === undefined && subsequent && pacing?.hold(ev.origin, ev.stanza)) return true;
  if (type === undefined || type === "unavailable") pacing?.drop(ev.origin);
  if (type === undefined) await becomeAvailable(host, ev.origin, ev.stanza);
  else if (type === "unavailable") await becomeUnavailable(host, ev.origin, ev.stanza);
  // Subscription or probe types without a 'to' mean nothing (§3, §4.3 require a target): dropped.
  return true;
}

export async function becomeAvailable(host: Host, session: LocalSession, stanza: Element): Promise<void> {
  const state = session.state(PRESENCE_STATE);
  const initial = !state.available;
  state.available = true;
  const full = session.jid.full;
  const owner = session.jid.bare;
  const presence = readdressed(stanza, full, undefined);
  delete presence.attrs.xmlns;
  await host.registry.update(full, session.id, { available: true, priority: parsePriority(stanza), presence: presence.toString() });
  const roster = await host.store.roster.list(owner);
  await broadcast(host, owner, presence, roster);
  if (initial) {
    const target = await host.registry.get(full);
    if (target?.sessionId === session.id) await syncNewResource(host, target, roster);
  }
}

/**
 * §4.5.2: unavailable presence goes to the broadcast audience (when the session had announced
 * itself) and to everyone that got directed presence from this session (§4.6.3). Also used when
 * the stream closes without a goodbye.
 */
export async function becomeUnavailable(host: Host, session: LocalSession, stanza?: Element): Promise<void> {
  const state = session.state(PRESENCE_STATE);
  const full = session.jid.full;
  const owner = session.jid.bare;
  const presence = stanza ? readdressed(stanza, full, undefined) : x("presence", { from: full });
  delete presence.attrs.xmlns;
  presence.attrs.type = "unavailable";
  const told = new Set<string>();
  if (state.available) {
    state.available = false;
    await host.registry.update(full, session.id, { available: false, presence: undefined });
    const roster = await host.store.roster.list(owner);
    for (const jid of await broadcast(host, owner, presence, roster)) told.add(jid);
  }
  for (const jid of state.directed ?? []) {
    if (!told.has(bareOf(jid))) await host.router.route(readdressed(presence, full, jid));
  }
  state.directed = undefined;
}

/** Sends `presence` (from a full JID, no 'to') to the contacts and own resources; returns the contacts told. */
async function broadcast(host: Host, owner: string, presence: Element, roster: RosterItem[]): Promise<string[]> {
  const from = presence.attrs.from!;
  const contacts = roster.filter(sendsPresenceTo).map((i) => i.jid);
  for (const contact of contacts) {
    if (contact !== owner) await host.router.route(readdressed(presence, from, contact));
  }
  for (const info of await host.registry.list(owner)) {
    if (info.available) await host.deliver(info, readdressed(presence, from, info.jid));
  }
  return contacts;
}

/**
 * §4.6.2: presence a client addresses to someone who is not a subscriber is remembered per
 * session so that its unavailability reaches them too. Delivery itself continues in the router.
 */
export async function trackDirectedPresence(host: Host, limits: PresenceLimits, ev: StanzaEvent): Promise<void> {
  if (!ev.origin || ev.to.bare === ev.from.bare) return;
  const state = ev.origin.state(PRESENCE_STATE);
  const target = ev.to.full;
  if (ev.stanza.attrs.type === "unavailable") {
    state.directed?.delete(target);
    return;
  }
  if (state.directed?.has(target) || (state.directed?.size ?? 0) >= limits.maxDirected) return;
  if (sendsPresenceTo(await host.store.roster.get(ev.from.bare, ev.to.bare))) return;
  (state.directed ??= new Set()).add(target);
}

/** "session/closed": a stream that ends without unavailable presence still goes offline (§4.5.1 note). */
export async function handleSessionClosed(host: Host, session: LocalSession): Promise<void> {
  await becomeUnavailable(host, session);
}

/**
 * "session/purged" (cluster mode): a resource held by a node that died never said goodbye; its
 * contacts and the user's other resources get unavailable presence on its behalf (RFC 6121
 * §4.5.1: the server generates it when the stream ends without one). Directed presence was kept
 * by the dead node and is lost with it.
 */
export async function handlePurgedSession(host: Host, info: SessionInfo): Promise<void> {
  if (!info.available) return;
  const owner = bareOf(info.jid);
  const presence = x("presence", { from: info.jid, type: "unavailable" });
  await broadcast(host, owner, presence, await host.store.roster.list(owner));
}

