/**
 * Occupant presence as the room sends it (XEP-0045 §7.2.3, §15.6.2): the occupant's own
 * presence payload from its room JID, plus `<x xmlns='…muc#user'>` with its affiliation and role
 * (and real JID for those allowed to see it, §7.2.4/§7.2.5), status codes, and the XEP-0421
 * occupant id. Everything else the client put in its presence (show, status, caps) passes on.
 */
import { type Element, x } from "@switchboard/xml";
import type { MucContext } from "./context.js";
import { NS_MUC, NS_MUC_USER, NS_OCCUPANT_ID, STATUS } from "./ns.js";
import type { Occupant, Room } from "./room.js";

export interface PresenceDetail {
  unavailable?: boolean;
  /** status codes for everyone (self-presence adds 110 itself) */
  statuses?: string[];
  /** §7.6.3: the new nick, on the unavailable presence of a nick change */
  newNick?: string;
  reason?: string;
  /** nick of the moderator who kicked or banned */
  actor?: string;
  /** §10.9: the room is being destroyed */
  destroy?: Element;
}

/** The payload children a room passes on: the client's own, minus MUC and occupant-id elements. */
function passedOn(presence: Element | undefined): Element[] {
  if (!presence) return [];
  return presence.children.filter(
    (c): c is Element => typeof c !== "string" && c.attrs.xmlns !== NS_MUC && c.attrs.xmlns !== NS_MUC_USER && c.attrs.xmlns !== NS_OCCUPANT_ID,
  );
}

/** The latest presence among an occupant's sessions. */
export function latestPresence(occupant: Occupant): { full: string; presence: Element } | undefined {
  let last: { full: string; presence: Element } | undefined;
  for (const [full, presence] of occupant.sessions) last = { full, presence };
  return last;
}

/** May `viewer` see real JIDs in this room (§7.2.4 non-anonymous, or a moderator)? */
export function seesJids(room: Room, viewer: Occupant | undefined): boolean {
  return room.config.whois === "anyone" || viewer?.role === "moderator";
}

/**
 * The presence of `occupant` as one viewer gets it. `self` adds status 110 (and 100 when the
 * room shows real JIDs, §7.2.3).
 */
export function occupantPresence(ctx: MucContext, room: Room, occupant: Occupant, to: string, opts: PresenceDetail & { self: boolean; withJid: boolean }): Element {
  const latest = latestPresence(occupant);
  const statuses = [...(opts.statuses ?? [])];
  if (opts.self) {
    statuses.push(STATUS.self);
    if (room.config.whois === "anyone" && !opts.unavailable) statuses.push(STATUS.nonAnonymous);
  }
  const affiliation = ctx.affiliation(room, occupant.bare);
  const item = x(
    "item",
    {
      affiliation,
      role: opts.unavailable ? "none" : occupant.role,
      jid: opts.withJid || opts.self ? latest?.full : undefined,
      nick: opts.newNick,
    },
    opts.actor !== undefined && x("actor", { nick: opts.actor }),
    opts.reason !== undefined && x("reason", {}, opts.reason),
  );
  return x(
    "presence",
    { from: `${room.bare}/${occupant.nick}`, to, type: opts.unavailable ? "unavailable" : undefined },
    opts.unavailable ? [] : passedOn(latest?.presence),
    x("x", { xmlns: NS_MUC_USER }, item, [...new Set(statuses)].map((code) => x("status", { code })), opts.destroy),
    x("occupant-id", { xmlns: NS_OCCUPANT_ID, id: occupant.occupantId }),
  );
}

/**
 * Sends `occupant`'s presence to everyone in the room (its own sessions get the self variant),
 * in room order. `skip` leaves out one full JID (a joining session gets its own copy later).
 */
export async function broadcastPresence(ctx: MucContext, room: Room, occupant: Occupant, detail: PresenceDetail = {}, skip?: string): Promise<void> {
  // Two variants for the others (with and without the real JID), sent to many at once; the
  // occupant's own sessions get the self variant.
  const seeing: string[] = [];
  const blind: string[] = [];
  for (const viewer of room.occupants.values()) {
    if (viewer === occupant) continue;
    for (const full of viewer.sessions.keys()) if (full !== skip) (seesJids(room, viewer) ? seeing : blind).push(full);
  }
  const variant = (withJid: boolean) => {
    const p = occupantPresence(ctx, room, occupant, "", { ...detail, self: false, withJid });
    delete p.attrs.to;
    return p;
  };
  if (seeing.length > 0) await ctx.sendMany(room, variant(true), seeing);
  if (blind.length > 0) await ctx.sendMany(room, variant(false), blind);
  if (room.occupants.get(occupant.nick) !== occupant) return;
  for (const full of [...occupant.sessions.keys()]) {
    if (full !== skip) await ctx.send(room, occupantPresence(ctx, room, occupant, full, { ...detail, self: true, withJid: true }));
  }
}

/** Sends the self-presence to every session of the occupant (after a change only it must see). */
export async function sendSelfPresence(ctx: MucContext, room: Room, occupant: Occupant, detail: PresenceDetail = {}): Promise<void> {
  for (const full of [...occupant.sessions.keys()]) {
    await ctx.send(room, occupantPresence(ctx, room, occupant, full, { ...detail, self: true, withJid: true }));
  }
}
