/**
 * Messages to a room (XEP-0045 §7.4 groupchat, §8.1 subject, §7.8 mediated invitations and
 * declines, §8.6 voice requests) and to an occupant (§7.5 private messages). Occupants' messages
 * are paced per occupant (muc.messagesPerSecond, muc.messageBurst): the excess bounces to the
 * sender with resource-constraint, and a message is either delivered to the room or bounced,
 * never both.
 */
import { type Element, x } from "@switchboard/xml";
import type { StanzaEvent } from "@switchboard/core";
import type { MucContext } from "./context.js";
import { FORM_REQUEST, NS_DATA, NS_MUC_USER, NS_OCCUPANT_ID } from "./ns.js";
import { formFields, formType } from "./forms.js";
import { grantVoice } from "./admin.js";
import type { Occupant, Room } from "./room.js";

export const MESSAGES_POLICY = "muc-messages";

/** Message to the room's bare JID. */
export async function handleRoomMessage(ctx: MucContext, room: Room, ev: StanzaEvent): Promise<void> {
  const stanza = ev.stanza;
  const type = stanza.attrs.type;
  if (type === "error") {
    // An occupant's client bounced what the room sent: it is not there any more.
    return;
  }
  const user = stanza.getChild("x", NS_MUC_USER);
  const sender = room.occupantByFull(ev.from.full);
  if (user && (user.getChild("invite") || user.getChild("decline"))) return invitation(ctx, room, ev, user, sender);
  const form = stanza.getChild("x", NS_DATA);
  if (form && formType(form) === FORM_REQUEST) return voiceRequestOrApproval(ctx, room, ev, form, sender);
  if (type !== "groupchat") return ctx.refuse(ev, "bad-request", "messages to a room are groupchat, invitations or voice requests");
  if (!sender) return ctx.refuse(ev, "not-acceptable", "only occupants may send messages to the room (XEP-0045 §7.4)");
  const subject = stanza.getChild("subject");
  if (subject && !stanza.getChild("body")) return changeSubject(ctx, room, ev, sender, subject.text());
  if (sender.role === "visitor") return ctx.refuse(ev, "forbidden", "visitors may not speak in this moderated room; ask for voice");
  if (!paced(ctx, room, ev, sender)) return;
  await broadcastGroupchat(ctx, room, sender, stanza);
}

/** Takes one token of the occupant's message allowance; bounces the stanza when there is none. */
function paced(ctx: MucContext, room: Room, ev: StanzaEvent, sender: Occupant): boolean {
  if (ctx.options.messagesPerSecond === 0) return true;
  const decision = ctx.host.rateLimits.check(MESSAGES_POLICY, `${room.bare}/${sender.bare}`);
  if (decision.allowed) return true;
  void ctx.refuse(ev, "resource-constraint", `you are sending messages too fast; at most ${ctx.options.messagesPerSecond} per second`);
  return false;
}

/** §7.4: from the sender's room JID to every occupant, and into the history. */
async function broadcastGroupchat(ctx: MucContext, room: Room, sender: Occupant, stanza: Element): Promise<void> {
  const children = stanza.children.filter((c) => typeof c === "string" || c.attrs.xmlns !== NS_OCCUPANT_ID);
  const from = `${room.bare}/${sender.nick}`;
  const base = x("message", { from, type: "groupchat", id: stanza.attrs.id }, children, x("occupant-id", { xmlns: NS_OCCUPANT_ID, id: sender.occupantId }));
  if (base.getChild("body") || base.getChild("subject")) room.history.add(base);
  await ctx.sendMany(room, base, everyone(room));
}

/** Every session of every occupant, in room order. */
function everyone(room: Room): string[] {
  return [...room.occupants.values()].flatMap((o) => [...o.sessions.keys()]);
}

/** §8.1: moderators, and participants when the room allows it, change the subject. */
async function changeSubject(ctx: MucContext, room: Room, ev: StanzaEvent, sender: Occupant, text: string): Promise<void> {
  const may = sender.role === "moderator" || (sender.role === "participant" && room.config.changeSubject);
  if (!may) return ctx.refuse(ev, "forbidden", "you may not change the subject of this room");
  if ([...text].length > ctx.options.maxSubjectLength) {
    ctx.limitHit("muc.maxSubjectLength", room, sender.bare, { length: [...text].length });
    return ctx.refuse(ev, "not-acceptable", `subjects are limited to ${ctx.options.maxSubjectLength} characters`);
  }
  if (!paced(ctx, room, ev, sender)) return;
  room.subject = { text, by: sender.nick, at: Date.now() };
  await ctx.save(room);
  ctx.changed(room);
  await ctx.sendMany(room, x("message", { from: `${room.bare}/${sender.nick}`, type: "groupchat", id: ev.stanza.attrs.id }, x("subject", {}, text)), everyone(room));
}

/** §7.5: a private message between occupants, from the sender's room JID, to all the target's sessions. */
export async function handlePrivateMessage(ctx: MucContext, room: Room, ev: StanzaEvent): Promise<void> {
  const stanza = ev.stanza;
  if (stanza.attrs.type === "error") return;
  const sender = room.occupantByFull(ev.from.full);
  if (!sender) return ctx.refuse(ev, "not-acceptable", "only occupants may send private messages in this room");
  if (stanza.attrs.type === "groupchat") return ctx.refuse(ev, "bad-request", "a groupchat message goes to the room, not to an occupant");
  const target = room.occupants.get(ev.to.resource);
  if (!target) return ctx.refuse(ev, "item-not-found", "nobody in the room has that nickname");
  const who = room.config.allowPm;
  const may = who === "anyone" || (who === "participants" && sender.role !== "visitor") || (who === "moderators" && sender.role === "moderator");
  if (!may) return ctx.refuse(ev, "forbidden", "private messages are not allowed in this room");
  if (!paced(ctx, room, ev, sender)) return;
  const children = stanza.children.filter((c) => typeof c === "string" || (c.attrs.xmlns !== NS_MUC_USER && c.attrs.xmlns !== NS_OCCUPANT_ID));
  for (const full of [...target.sessions.keys()]) {
    await ctx.send(
      room,
      x("message", { from: `${room.bare}/${sender.nick}`, to: full, type: stanza.attrs.type, id: stanza.attrs.id }, children, x("x", { xmlns: NS_MUC_USER }), x("occupant-id", { xmlns: NS_OCCUPANT_ID, id: sender.occupantId })),
    );
  }
}

/** §7.8.2 mediated invitation (the room sends it on) and §7.8.2's decline (back to the inviter). */
async function invitation(ctx: MucContext, room: Room, ev: StanzaEvent, user: Element, sender: Occupant | undefined): Promise<void> {
  const invite = user.getChild("invite");
  const decline = user.getChild("decline");
  const reason = (invite ?? decline)!.getChildText("reason") ?? undefined;
  const to = (invite ?? decline)!.attrs.to;
  if (!to) return ctx.refuse(ev, "bad-request", "an invitation names who it is for");
  if (decline) {
    await ctx.host.router.route(x("message", { from: room.bare, to }, x("x", { xmlns: NS_MUC_USER }, x("decline", { from: ev.from.bare }, reason !== undefined && x("reason", {}, reason)))));
    return;
  }
  if (!sender) return ctx.refuse(ev, "not-acceptable", "only occupants may invite to this room");
  const affiliation = ctx.affiliation(room, sender.bare);
  const mayInvite = !room.config.membersOnly || room.config.allowInvites || affiliation === "owner" || affiliation === "admin";
  if (!mayInvite) return ctx.refuse(ev, "forbidden", "only admins and owners may invite to this members-only room");
  if (!paced(ctx, room, ev, sender)) return;
  const body = `${ev.from.bare} invites you to the room ${room.bare}${reason ? `: ${reason}` : ""}`;
  await ctx.host.router.route(
    x(
      "message",
      { from: room.bare, to, id: ev.stanza.attrs.id },
      x("x", { xmlns: NS_MUC_USER }, x("invite", { from: ev.from.bare }, reason !== undefined && x("reason", {}, reason)), room.config.password !== "" && x("password", {}, room.config.password)),
      x("body", {}, body),
    ),
  );
}

/**
 * §8.6: a visitor asks for voice (the form goes to every moderator), or a moderator answers one
 * (muc#request_allow true grants voice). Requests are paced like messages.
 */
async function voiceRequestOrApproval(ctx: MucContext, room: Room, ev: StanzaEvent, form: Element, sender: Occupant | undefined): Promise<void> {
  if (!sender) return ctx.refuse(ev, "not-acceptable", "only occupants may ask for voice");
  const fields = formFields(form);
  if (sender.role === "moderator" && form.attrs.type === "submit" && fields.get("muc#request_allow")?.[0] !== undefined) {
    const allow = ["1", "true"].includes(fields.get("muc#request_allow")![0]!);
    const nick = fields.get("muc#roomnick")?.[0];
    const target = nick === undefined ? undefined : room.occupants.get(nick);
    if (allow && target && target.role === "visitor") await grantVoice(ctx, room, target, sender);
    return;
  }
  if (fields.get("muc#role")?.[0] !== "participant") return ctx.refuse(ev, "bad-request", "a voice request asks for the participant role");
  if (sender.role !== "visitor") return; // §8.6: nothing to ask for
  if (!paced(ctx, room, ev, sender)) return;
  const request = x(
    "x",
    { xmlns: NS_DATA, type: "form" },
    x("title", {}, "Voice request"),
    x("instructions", {}, `Grant ${sender.nick} voice in this room?`),
    x("field", { var: "FORM_TYPE", type: "hidden" }, x("value", {}, FORM_REQUEST)),
    x("field", { var: "muc#role", type: "list-single", label: "Requested role" }, x("value", {}, "participant")),
    x("field", { var: "muc#jid", type: "jid-single", label: "User ID" }, x("value", {}, ev.from.full)),
    x("field", { var: "muc#roomnick", type: "text-single", label: "Room nickname" }, x("value", {}, sender.nick)),
    x("field", { var: "muc#request_allow", type: "boolean", label: "Grant voice to this person?" }, x("value", {}, "false")),
  );
  for (const moderator of [...room.occupants.values()].filter((o) => o.role === "moderator")) {
    for (const full of [...moderator.sessions.keys()]) await ctx.send(room, x("message", { from: room.bare, to: full }, request));
  }
}
