/**
 * The muc#admin protocol (XEP-0045 §8 moderator and §9 admin use cases): roles by nick (kick,
 * voice, moderator) and affiliations by bare JID (ban, member, admin, owner), and their lists.
 * Only a moderator changes a role and only an admin or owner an affiliation (§5.1.2, §5.2.1);
 * nobody acts on someone ranked as high or higher, and the last owner stays. A set is checked
 * whole before any of it applies.
 */
import { StanzaError, type Element, x } from "@switchboard/xml";
import { bareOf, tryParseJid } from "@switchboard/xml";
import type { MucContext } from "./context.js";
import { removeOccupant } from "./join.js";
import { NS_MUC_ADMIN, STATUS } from "./ns.js";
import { broadcastPresence } from "./presence.js";
import { AFFILIATIONS, ROLES, entryRole, rank, type Affiliation, type Occupant, type Role, type Room } from "./room.js";

type Change =
  | { kind: "role"; target: Occupant; role: Role; reason?: string }
  | { kind: "affiliation"; jid: string; affiliation: Affiliation; reason?: string; nick?: string };

export async function adminGet(ctx: MucContext, room: Room, from: string, query: Element): Promise<Element> {
  const actor = room.occupantByFull(from);
  const actorAffiliation = ctx.affiliation(room, bareOf(from));
  const item = query.getChild("item");
  const role = item?.attrs.role as Role | undefined;
  const affiliation = item?.attrs.affiliation as Affiliation | undefined;
  if (role !== undefined) {
    if (!ROLES.includes(role) || role === "none") throw new StanzaError("bad-request", `no list of role '${role}'`);
    if (actor?.role !== "moderator") throw new StanzaError("forbidden", "only moderators see the role lists");
    const items = [...room.occupants.values()]
      .filter((o) => o.role === role)
      .map((o) => x("item", { nick: o.nick, role: o.role, affiliation: ctx.affiliation(room, o.bare), jid: [...o.sessions.keys()][0] }));
    return x("query", { xmlns: NS_MUC_ADMIN }, items);
  }
  if (affiliation !== undefined) {
    if (!AFFILIATIONS.includes(affiliation) || affiliation === "none") throw new StanzaError("bad-request", `no list of affiliation '${affiliation}'`);
    if (rank(actorAffiliation) < rank("admin")) throw new StanzaError("forbidden", "only admins and owners see the affiliation lists");
    const items = [...room.affiliations]
      .filter(([, e]) => e.affiliation === affiliation)
      .map(([jid, e]) => x("item", { jid, affiliation: e.affiliation, nick: e.nick }, e.reason !== undefined && x("reason", {}, e.reason)));
    return x("query", { xmlns: NS_MUC_ADMIN }, items);
  }
  throw new StanzaError("bad-request", "ask for the list of one role or one affiliation");
}

export async function adminSet(ctx: MucContext, room: Room, from: string, query: Element): Promise<void> {
  const actorBare = bareOf(from);
  const actor = room.occupantByFull(from);
  const actorAffiliation = ctx.affiliation(room, actorBare);
  const changes: Change[] = [];
  const items = query.getChildren("item");
  if (items.length === 0) throw new StanzaError("bad-request", "no item to change");
  for (const item of items) changes.push(checkChange(ctx, room, actor, actorBare, actorAffiliation, item));
  const owners = new Set(room.owners());
  for (const c of changes) if (c.kind === "affiliation") c.affiliation === "owner" ? owners.add(c.jid) : owners.delete(c.jid);
  if (owners.size === 0) throw new StanzaError("conflict", "a room keeps at least one owner");
  let affiliationsChanged = false;
  for (const c of changes) {
    if (c.kind === "role") await applyRole(ctx, room, c.target, c.role, actor, c.reason);
    else {
      affiliationsChanged = true;
      await applyAffiliation(ctx, room, c.jid, c.affiliation, actor, c.reason, c.nick);
    }
  }
  if (affiliationsChanged) {
    await ctx.save(room);
    ctx.changed(room);
  }
}

function checkChange(ctx: MucContext, room: Room, actor: Occupant | undefined, actorBare: string, actorAffiliation: Affiliation, item: Element): Change {
  const reason = item.getChildText("reason") ?? undefined;
  const { role, affiliation, nick, jid } = item.attrs;
  if (role !== undefined && affiliation === undefined) {
    if (!ROLES.includes(role as Role)) throw new StanzaError("bad-request", `unknown role '${role}'`);
    if (actor?.role !== "moderator") throw new StanzaError("forbidden", "only moderators change roles");
    const target = nick === undefined ? undefined : room.occupants.get(nick);
    if (!target) throw new StanzaError("item-not-found", `nobody in the room is called '${nick ?? ""}'`);
    const targetAffiliation = ctx.affiliation(room, target.bare);
    if (role === "moderator" && rank(actorAffiliation) < rank("admin")) throw new StanzaError("not-allowed", "only admins and owners make moderators");
    if (role !== "moderator" && rank(targetAffiliation) >= rank("admin") && rank(actorAffiliation) <= rank(targetAffiliation)) {
      throw new StanzaError("not-allowed", `you cannot change the role of an ${targetAffiliation}`);
    }
    if (target.role === "moderator" && role !== "moderator" && rank(actorAffiliation) < rank("admin")) {
      throw new StanzaError("not-allowed", "only admins and owners take moderation away");
    }
    return { kind: "role", target, role: role as Role, reason };
  }
  if (affiliation !== undefined) {
    if (!AFFILIATIONS.includes(affiliation as Affiliation)) throw new StanzaError("bad-request", `unknown affiliation '${affiliation}'`);
    const parsed = jid === undefined ? undefined : tryParseJid(jid);
    const targetBare = parsed?.bare ?? (nick !== undefined ? room.occupants.get(nick)?.bare : undefined);
    if (!targetBare) throw new StanzaError(jid === undefined && nick !== undefined ? "item-not-found" : "bad-request", "an affiliation change names a JID");
    if (rank(actorAffiliation) < rank("admin")) throw new StanzaError("forbidden", "only admins and owners change affiliations");
    const current = ctx.affiliation(room, targetBare);
    const touchesAdmins = affiliation === "admin" || affiliation === "owner" || rank(current) >= rank("admin");
    if (touchesAdmins && actorAffiliation !== "owner") throw new StanzaError("not-allowed", "only owners grant or take the admin and owner affiliations");
    if (ctx.admins.has(targetBare) && targetBare !== actorBare && affiliation === "outcast") throw new StanzaError("not-allowed", "service administrators cannot be banned");
    return { kind: "affiliation", jid: targetBare, affiliation: affiliation as Affiliation, reason, nick: item.attrs.nick };
  }
  throw new StanzaError("bad-request", "an item changes a role (with a nick) or an affiliation (with a jid)");
}

async function applyRole(ctx: MucContext, room: Room, target: Occupant, role: Role, actor: Occupant | undefined, reason?: string): Promise<void> {
  if (role === "none") {
    ctx.log.info({ room: room.bare, user: target.bare, by: actor?.bare }, "occupant kicked");
    await removeOccupant(ctx, room, target, { statuses: [STATUS.kicked], actor: actor?.nick, reason });
    return;
  }
  if (target.role === role) return;
  target.role = role;
  ctx.changed(room, target.nick);
  await broadcastPresence(ctx, room, target, { actor: actor?.nick, reason });
}

/** §8.6 approval and §8.4 voice: a visitor becomes a participant. */
export async function grantVoice(ctx: MucContext, room: Room, target: Occupant, actor: Occupant): Promise<void> {
  await applyRole(ctx, room, target, "participant", actor);
}

async function applyAffiliation(ctx: MucContext, room: Room, jid: string, affiliation: Affiliation, actor: Occupant | undefined, reason?: string, nick?: string): Promise<void> {
  if (affiliation === "none") room.affiliations.delete(jid);
  else room.affiliations.set(jid, { affiliation, reason, nick: affiliation === "outcast" ? undefined : nick ?? room.affiliations.get(jid)?.nick });
  for (const occupant of [...room.occupants.values()].filter((o) => o.bare === jid)) {
    if (affiliation === "outcast") {
      ctx.log.info({ room: room.bare, user: jid, by: actor?.bare }, "user banned from room");
      await removeOccupant(ctx, room, occupant, { statuses: [STATUS.banned], actor: actor?.nick, reason });
    } else if (room.config.membersOnly && rank(affiliation) < rank("member")) {
      await removeOccupant(ctx, room, occupant, { statuses: [STATUS.affiliationChange], actor: actor?.nick, reason });
    } else {
      occupant.role = entryRole(room, affiliation);
      ctx.changed(room, occupant.nick);
      await broadcastPresence(ctx, room, occupant, { actor: actor?.nick, reason });
    }
  }
}
