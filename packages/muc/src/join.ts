/**
 * Presence to a room (XEP-0045 §7.2 entering, §7.6 nick change, §7.7 status change, §7.14
 * exiting) and room creation (§10.1), with the MUC limits that apply to them: name and nick
 * lengths, who may create, rooms created per hour, rooms joined per user, occupants per room,
 * the minimum interval between a user's joins and leaves of a room, and coalescing of fast
 * status changes. A refused join is answered with a presence error and the room sees nothing.
 */
import { type Element, type Jid, x } from "@switchboard/xml";
import type { StanzaEvent } from "@switchboard/core";
import type { MucContext } from "./context.js";
import { readHistoryRequest } from "./history.js";
import { NS_MUC, STATUS } from "./ns.js";
import { broadcastPresence, occupantPresence, seesJids, sendSelfPresence } from "./presence.js";
import { entryRole, rank, type Occupant, type Room } from "./room.js";

export const ROOMS_CREATED_POLICY = "muc-rooms-created";

/** What the service gives the presence handler: the room if it exists, and how to make one. */
export interface PresenceTarget {
  room: Room | undefined;
  create(jid: Jid): Room;
  /** Runs fn later in this room's turn (coalesced presence). */
  later(room: Room, delayMs: number, fn: () => Promise<void>): NodeJS.Timeout;
}

const chars = (s: string) => [...s].length;

export async function handleRoomPresence(ctx: MucContext, ev: StanzaEvent, target: PresenceTarget): Promise<void> {
  const type = ev.stanza.attrs.type;
  const room = target.room;
  const occupant = room?.occupantByFull(ev.from.full);
  if (type === "unavailable" || type === "error") {
    // §7.14; an error from an occupant's client means it is not there any more.
    if (room && occupant) await leave(ctx, room, occupant, ev.from.full);
    return;
  }
  if (type !== undefined) return; // subscriptions and probes mean nothing to a room
  const nick = ev.to.resource;
  if (nick === "") return ctx.refuse(ev, "jid-malformed", "a room is entered at room@service/nick (XEP-0045 §7.2.1)");
  if (chars(ev.to.local) > ctx.options.maxRoomIdLength) {
    ctx.limitHit("muc.maxRoomIdLength", ev.to, ev.from.bare, { length: chars(ev.to.local) });
    return ctx.refuse(ev, "not-acceptable", `room names are limited to ${ctx.options.maxRoomIdLength} characters`);
  }
  if (chars(nick) > ctx.options.maxNickLength) {
    ctx.limitHit("muc.maxNickLength", ev.to, ev.from.bare, { length: chars(nick) });
    return ctx.refuse(ev, "not-acceptable", `nicknames are limited to ${ctx.options.maxNickLength} characters`);
  }
  if (room && occupant) {
    if (occupant.nick === nick) return statusChange(ctx, room, occupant, ev, target);
    return changeNick(ctx, room, occupant, ev, nick);
  }
  if (!room || room.destroyed) return create(ctx, ev, target);
  return enter(ctx, room, ev, false);
}

async function create(ctx: MucContext, ev: StanzaEvent, target: PresenceTarget): Promise<void> {
  const user = ev.from.bare;
  const who = ctx.options.createRooms;
  const allowed = ctx.admins.has(user) || who === "everyone" || (who === "local" && ev.from.domain === ctx.host.domain);
  if (!allowed) {
    ctx.limitHit("muc.createRooms", ev.to, user, { createRooms: who });
    return ctx.refuse(ev, "not-allowed", "this service does not let you create rooms");
  }
  if (!(await underJoinedLimit(ctx, ev, user))) return;
  if (ctx.options.maxRoomsCreatedPerUserPerHour > 0 && !ctx.admins.has(user)) {
    const decision = await ctx.host.rateLimits.checkAcquire(ROOMS_CREATED_POLICY, user);
    if (!decision.allowed) return ctx.refuse(ev, "resource-constraint", `you have created ${ctx.options.maxRoomsCreatedPerUserPerHour} rooms in the last hour`);
  }
  if (!(await reserveJoin(ctx, ev, user))) return;
  const room = target.create(ev.to.toBare());
  room.affiliations.set(user, { affiliation: "owner" });
  ctx.changed(room);
  // §10.1.1: a room stays locked until its owner configures it; a client that did not say it
  // speaks MUC (no <x/>) gets an instant room at once (§7.2, legacy groupchat 1.0).
  room.locked = ev.stanza.getChild("x", NS_MUC) !== undefined;
  ctx.log.info({ room: room.bare, owner: user, locked: room.locked }, "room created");
  await enter(ctx, room, ev, true);
}

/** A first look at muc.maxRoomsPerUser (before spending a creation); reserveJoin decides. */
async function underJoinedLimit(ctx: MucContext, ev: StanzaEvent, user: string): Promise<boolean> {
  const max = ctx.options.maxRoomsPerUser;
  if (max === 0) return true;
  const rooms = await ctx.host.roomDirectory.joinedBy(user);
  if (rooms.includes(ev.to.bare) || rooms.length < max) return true;
  ctx.limitHit("muc.maxRoomsPerUser", ev.to, user, { joined: rooms.length });
  await ctx.refuse(ev, "resource-constraint", `you are in ${max} rooms already`);
  return false;
}

/**
 * Counts the user into the room across every worker (RoomDirectory.join is atomic), so two
 * joins racing on two workers cannot both pass muc.maxRoomsPerUser; the loser is counted out.
 */
async function reserveJoin(ctx: MucContext, ev: StanzaEvent, user: string): Promise<boolean> {
  const count = await ctx.host.roomDirectory.join(user, ev.to.bare);
  const max = ctx.options.maxRoomsPerUser;
  if (max === 0 || count <= max) return true;
  await ctx.host.roomDirectory.leave(user, ev.to.bare);
  ctx.limitHit("muc.maxRoomsPerUser", ev.to, user, { joined: count - 1 });
  await ctx.refuse(ev, "resource-constraint", `you are in ${max} rooms already`);
  return false;
}

/** The checks of §7.2.6–§7.2.10 and the service's limits, then the entry itself (§7.2.3). */
async function enter(ctx: MucContext, room: Room, ev: StanzaEvent, created: boolean): Promise<void> {
  const user = ev.from.bare;
  const nick = ev.to.resource;
  const affiliation = ctx.affiliation(room, user);
  const muc = ev.stanza.getChild("x", NS_MUC);
  if (!created) {
    if (room.locked && affiliation !== "owner") return ctx.refuse(ev, "item-not-found", "the room is being set up by its owner (XEP-0045 §10.1.1)");
    if (affiliation === "outcast") return ctx.refuse(ev, "forbidden", "you are banned from this room");
    if (room.config.membersOnly && rank(affiliation) < rank("member")) return ctx.refuse(ev, "registration-required", "this room is for members only");
    if (room.config.password !== "" && muc?.getChildText("password") !== room.config.password) {
      return ctx.refuse(ev, "not-authorized", "this room needs a password");
    }
  }
  const existing = room.occupants.get(nick);
  const reservedBy = room.reservedBy(nick);
  if ((existing && existing.bare !== user) || (reservedBy !== undefined && reservedBy !== user)) {
    return ctx.refuse(ev, "conflict", "that nickname is taken in this room");
  }
  if (!existing && !created) {
    const max = Math.min(...[room.config.maxUsers, ctx.options.maxOccupants].filter((n) => n > 0));
    if (Number.isFinite(max) && room.occupants.size >= max && rank(affiliation) < rank("admin")) {
      ctx.limitHit("muc.maxOccupants", room, user, { occupants: room.occupants.size });
      return ctx.refuse(ev, "service-unavailable", `the room is full (${max} occupants)`);
    }
    const interval = ctx.options.minJoinIntervalSeconds * 1000;
    const last = room.lastJoinOrLeave.get(user);
    if (interval > 0 && last !== undefined && Date.now() - last < interval) {
      ctx.limitHit("muc.minJoinIntervalSeconds", room, user, { sinceMs: Date.now() - last });
      return ctx.refuse(ev, "resource-constraint", `wait ${Math.ceil((last + interval - Date.now()) / 1000)} s before entering this room again`);
    }
    if (!room.occupantByBare(user) && !(await reserveJoin(ctx, ev, user))) return;
  }
  const full = ev.from.full;
  const occupant: Occupant = existing ?? {
    nick,
    bare: user,
    role: entryRole(room, affiliation),
    sessions: new Map(),
    occupantId: ctx.occupantId(room, user),
    presenceAt: Date.now(),
  };
  occupant.sessions.set(full, withoutMuc(ev.stanza));
  room.nickOf.set(full, nick);
  ctx.changed(room, nick);
  if (!existing) {
    room.occupants.set(nick, occupant);
    room.lastJoinOrLeave.set(user, Date.now());
  }
  // §7.2.3: the others' presence first, then the others learn of the newcomer, then its own.
  const withJid = seesJids(room, occupant);
  for (const other of [...room.occupants.values()]) {
    if (other !== occupant) await ctx.send(room, occupantPresence(ctx, room, other, full, { self: false, withJid }));
  }
  if (!existing) await broadcastPresence(ctx, room, occupant, {}, full);
  const statuses = created ? [STATUS.created] : [];
  await ctx.send(room, occupantPresence(ctx, room, occupant, full, { self: true, withJid: true, statuses }));
  // §7.2.14 history, then §7.2.15 the subject (always, empty when none).
  for (const old of room.history.replay(readHistoryRequest(muc?.getChild("history")), room.bare, full)) await ctx.send(room, old);
  const subject = room.subject;
  await ctx.send(room, x("message", { from: subject?.by ? `${room.bare}/${subject.by}` : room.bare, to: full, type: "groupchat", id: `subject-${Date.now()}` }, x("subject", {}, subject?.text ?? "")));
}

/** The client's presence as kept for the room: without the join's `<x xmlns='…muc'/>`. */
function withoutMuc(presence: Element): Element {
  return x("presence", {}, presence.children.filter((c) => typeof c === "string" || c.attrs.xmlns !== NS_MUC));
}

/**
 * §7.7: a status change goes to the room, but no faster than muc.minPresenceIntervalSeconds per
 * occupant: changes in between replace each other and the latest goes out when the interval has
 * passed. Nothing in a presence changes a role (a visitor stays a visitor).
 */
async function statusChange(ctx: MucContext, room: Room, occupant: Occupant, ev: StanzaEvent, target: PresenceTarget): Promise<void> {
  occupant.sessions.delete(ev.from.full);
  occupant.sessions.set(ev.from.full, withoutMuc(ev.stanza)); // latest last
  if (occupant.pendingPresence) return; // the waiting broadcast will carry this one
  const interval = ctx.options.minPresenceIntervalSeconds * 1000;
  const wait = occupant.presenceAt + interval - Date.now();
  if (interval > 0 && wait > 0) {
    occupant.pendingPresence = {
      full: ev.from.full,
      timer: target.later(room, wait, async () => {
        occupant.pendingPresence = undefined;
        if (room.occupants.get(occupant.nick) !== occupant) return;
        occupant.presenceAt = Date.now();
        ctx.changed(room, occupant.nick);
        await broadcastPresence(ctx, room, occupant);
      }),
    };
    return;
  }
  occupant.presenceAt = Date.now();
  ctx.changed(room, occupant.nick);
  await broadcastPresence(ctx, room, occupant);
}

/** §7.6: unavailable from the old nick with 303 and the new nick, then available from the new one. */
async function changeNick(ctx: MucContext, room: Room, occupant: Occupant, ev: StanzaEvent, nick: string): Promise<void> {
  const taken = room.occupants.get(nick);
  const reservedBy = room.reservedBy(nick);
  if (taken || (reservedBy !== undefined && reservedBy !== occupant.bare)) return ctx.refuse(ev, "conflict", "that nickname is taken in this room");
  const interval = ctx.options.minPresenceIntervalSeconds * 1000;
  if (interval > 0 && Date.now() - occupant.presenceAt < interval) {
    ctx.limitHit("muc.minPresenceIntervalSeconds", room, occupant.bare, { nick });
    return ctx.refuse(ev, "resource-constraint", "you are changing nicknames too fast");
  }
  if (occupant.pendingPresence) clearTimeout(occupant.pendingPresence.timer);
  occupant.pendingPresence = undefined;
  await broadcastPresence(ctx, room, occupant, { unavailable: true, statuses: [STATUS.nickChanged], newNick: nick });
  const old = occupant.nick;
  room.occupants.delete(old);
  occupant.nick = nick;
  room.occupants.set(nick, occupant);
  for (const full of occupant.sessions.keys()) room.nickOf.set(full, nick);
  occupant.sessions.set(ev.from.full, withoutMuc(ev.stanza));
  occupant.presenceAt = Date.now();
  ctx.changed(room, old, nick);
  await broadcastPresence(ctx, room, occupant);
}

/** §7.14: one session leaves; the occupant leaves with its last session. */
export async function leave(ctx: MucContext, room: Room, occupant: Occupant, full: string, statuses: string[] = []): Promise<void> {
  if (!occupant.sessions.has(full)) return;
  const goodbye = occupantPresence(ctx, room, occupant, full, { self: true, withJid: true, unavailable: true, statuses });
  occupant.sessions.delete(full);
  room.nickOf.delete(full);
  ctx.changed(room, occupant.nick);
  if (occupant.sessions.size > 0) {
    await ctx.send(room, goodbye);
    return;
  }
  await removeOccupant(ctx, room, occupant, { statuses }, goodbye);
}

/**
 * Takes an occupant out of the room and tells everyone (the occupant's own sessions get
 * `selfCopy` or the self variant of the same detail). Empty temporary rooms go away.
 */
export async function removeOccupant(
  ctx: MucContext,
  room: Room,
  occupant: Occupant,
  detail: Parameters<typeof broadcastPresence>[3],
  selfCopy?: Element,
): Promise<void> {
  if (occupant.pendingPresence) clearTimeout(occupant.pendingPresence.timer);
  occupant.pendingPresence = undefined;
  const sessions = [...occupant.sessions.keys()];
  room.occupants.delete(occupant.nick);
  for (const full of sessions) room.nickOf.delete(full);
  occupant.sessions.clear();
  room.lastJoinOrLeave.set(occupant.bare, Date.now());
  ctx.changed(room, occupant.nick);
  if (!room.occupantByBare(occupant.bare)) await ctx.host.roomDirectory.leave(occupant.bare, room.bare);
  await broadcastPresence(ctx, room, occupant, { ...detail, unavailable: true });
  if (selfCopy) await ctx.send(room, selfCopy);
  for (const full of sessions) {
    await ctx.send(room, occupantPresence(ctx, room, occupant, full, { ...detail, unavailable: true, self: true, withJid: true }));
  }
  if (room.occupants.size === 0 && !room.config.persistent) await ctx.dropRoom(room);
}
