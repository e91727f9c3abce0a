/**
 * The muc#owner protocol (XEP-0045 §10): the configuration form (get, submit, cancel), instant
 * rooms (§10.1.2: an empty submitted form), and destruction (§10.9). Only owners (and service
 * admins) may use it.
 */
import { StanzaError, type Element, bareOf, tryParseJid, x } from "@switchboard/xml";
import type { MucContext } from "./context.js";
import { applyConfigForm, configForm } from "./config-form.js";
import { removeOccupant } from "./join.js";
import { NS_DATA, NS_MUC_OWNER, NS_MUC_USER, STATUS } from "./ns.js";
import { rank, type Room } from "./room.js";

function assertOwner(ctx: MucContext, room: Room, from: string): void {
  if (ctx.affiliation(room, bareOf(from)) !== "owner") throw new StanzaError("forbidden", "only the room's owners may do this");
}

export function ownerGet(ctx: MucContext, room: Room, from: string): Element {
  assertOwner(ctx, room, from);
  return x("query", { xmlns: NS_MUC_OWNER }, configForm(ctx, room));
}

export async function ownerSet(ctx: MucContext, room: Room, from: string, query: Element): Promise<void> {
  assertOwner(ctx, room, from);
  const destroy = query.getChild("destroy");
  if (destroy) {
    const alternate = destroy.attrs.jid;
    if (alternate !== undefined && !tryParseJid(alternate)) throw new StanzaError("jid-malformed", "the alternate room is not a valid JID");
    ctx.log.info({ room: room.bare, by: bareOf(from) }, "room destroyed by its owner");
    await ctx.destroy(room, { reason: destroy.getChildText("reason") ?? undefined, alternate });
    return;
  }
  const form = query.getChild("x", NS_DATA);
  if (!form) throw new StanzaError("bad-request", "send the configuration form, an empty form for an instant room, or <destroy/>");
  if (form.attrs.type === "cancel") {
    // §10.1.3: cancelling the first configuration of a new room destroys it.
    if (room.locked) await ctx.destroy(room, {});
    return;
  }
  if (form.attrs.type !== "submit") throw new StanzaError("bad-request", "a configuration form is submitted with type 'submit'");
  const { config, owners } = await applyConfigForm(ctx, room, form, bareOf(from));
  const ownerJids = owners?.map((j) => {
    const jid = tryParseJid(j);
    if (!jid) throw new StanzaError("not-acceptable", `'${j}' in muc#roomconfig_roomowners is not a JID`);
    return jid.bare;
  });
  const before = room.config;
  const wasLocked = room.locked;
  room.config = config;
  room.history.resize(config.historyLength);
  room.locked = false;
  if (ownerJids) {
    for (const [jid, e] of [...room.affiliations]) if (e.affiliation === "owner" && !ownerJids.includes(jid)) room.affiliations.delete(jid);
    for (const jid of ownerJids) room.affiliations.set(jid, { affiliation: "owner", nick: room.affiliations.get(jid)?.nick });
  }
  if (before.persistent && !config.persistent) await ctx.dropRoom(room, { keepLive: true });
  await ctx.save(room);
  ctx.changed(room);
  // the owner's answer says the room is open: its listing must be visible on every worker by then
  await ctx.flush(room);
  ctx.log.info({ room: room.bare, by: bareOf(from), persistent: config.persistent, membersOnly: config.membersOnly }, wasLocked ? "room configured" : "room configuration changed");
  if (wasLocked) return;
  // §10.2.1: occupants learn that the configuration changed (and whether real JIDs show, 172/173).
  const codes = [STATUS.configChanged, ...(before.whois !== config.whois ? [config.whois === "anyone" ? "172" : "173"] : [])];
  for (const occupant of [...room.occupants.values()]) {
    for (const full of [...occupant.sessions.keys()]) {
      await ctx.send(room, x("message", { from: room.bare, to: full, type: "groupchat" }, x("x", { xmlns: NS_MUC_USER }, codes.map((code) => x("status", { code })))));
    }
  }
  // §9.3: making a room members-only sends out whoever is not a member.
  if (config.membersOnly && !before.membersOnly) {
    for (const occupant of [...room.occupants.values()]) {
      if (rank(ctx.affiliation(room, occupant.bare)) < rank("member")) await removeOccupant(ctx, room, occupant, { statuses: [STATUS.membersOnly] });
    }
  }
}
