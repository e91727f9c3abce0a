/**
 * The owner's configuration form (XEP-0045 §10.2, fields of §15.5.3 muc#roomconfig) and how a
 * submitted one changes the room, within the service's limits on name, description and
 * password lengths (not-acceptable) and on persistent rooms per owner (not-allowed).
 */
import { StanzaError, type Element, x } from "@switchboard/xml";
import type { MucContext } from "./context.js";
import { formFields } from "./forms.js";
import { FORM_ROOMCONFIG, NS_DATA } from "./ns.js";
import type { RoomConfig, Room } from "./room.js";

const bool = (v: boolean) => (v ? "1" : "0");

function field(name: string, type: string, label: string, value: string | string[], options?: string[]): Element {
  const values = Array.isArray(value) ? value : [value];
  return x(
    "field",
    { var: name, type, label },
    values.map((v) => x("value", {}, v)),
    (options ?? []).map((o) => x("option", { label: o }, x("value", {}, o))),
  );
}

export function configForm(ctx: MucContext, room: Room): Element {
  const c = room.config;
  return x(
    "x",
    { xmlns: NS_DATA, type: "form" },
    x("title", {}, `Configuration of ${room.bare}`),
    x("field", { var: "FORM_TYPE", type: "hidden" }, x("value", {}, FORM_ROOMCONFIG)),
    field("muc#roomconfig_roomname", "text-single", "Title", c.name),
    field("muc#roomconfig_roomdesc", "text-single", "Description", c.description),
    field("muc#roomconfig_persistentroom", "boolean", "Keep the room when it is empty", bool(c.persistent)),
    field("muc#roomconfig_publicroom", "boolean", "List the room in the directory", bool(c.public)),
    field("muc#roomconfig_membersonly", "boolean", "Only members may enter", bool(c.membersOnly)),
    field("muc#roomconfig_moderatedroom", "boolean", "Only participants with voice may speak", bool(c.moderated)),
    field("muc#roomconfig_passwordprotectedroom", "boolean", "A password is needed to enter", bool(c.password !== "")),
    field("muc#roomconfig_roomsecret", "text-private", "Password", c.password),
    field("muc#roomconfig_maxusers", "list-single", "Most occupants", String(c.maxUsers || ctx.options.maxOccupants || 0), ["10", "20", "30", "50", "100", "200"].filter((n) => ctx.options.maxOccupants === 0 || Number(n) <= ctx.options.maxOccupants)),
    field("muc#roomconfig_whois", "list-single", "Who may see real JIDs", c.whois, ["moderators", "anyone"]),
    field("muc#roomconfig_changesubject", "boolean", "Participants may change the subject", bool(c.changeSubject)),
    field("muc#roomconfig_allowinvites", "boolean", "Participants may invite others", bool(c.allowInvites)),
    field("muc#roomconfig_allowpm", "list-single", "Who may send private messages", c.allowPm, ["anyone", "participants", "moderators", "none"]),
    field("muc#maxhistoryfetch", "text-single", "Messages kept for newcomers", String(c.historyLength)),
    field("muc#roomconfig_roomowners", "jid-multi", "Owners", room.owners()),
  );
}

/** What a submitted form changes; throws the stanza error §10.2 names for a value it refuses. */
export async function applyConfigForm(ctx: MucContext, room: Room, form: Element, owner: string): Promise<{ config: RoomConfig; owners?: string[] }> {
  const fields = formFields(form);
  const next: RoomConfig = { ...room.config };
  const one = (name: string) => fields.get(name)?.[0];
  const flag = (name: string, set: (v: boolean) => void) => {
    const v = one(name);
    if (v === undefined) return;
    if (!["0", "1", "true", "false"].includes(v)) throw new StanzaError("not-acceptable", `${name} is a boolean`);
    set(v === "1" || v === "true");
  };
  const text = (name: string, max: number, limit: string, set: (v: string) => void) => {
    const v = fields.has(name) ? fields.get(name)!.join("\n") : undefined;
    if (v === undefined) return;
    if ([...v].length > max) {
      ctx.limitHit(limit, room, owner, { field: name, length: [...v].length });
      throw new StanzaError("not-acceptable", `${name} is limited to ${max} characters`);
    }
    set(v);
  };
  const choice = <T extends string>(name: string, choices: readonly T[], set: (v: T) => void) => {
    const v = one(name);
    if (v === undefined) return;
    if (!choices.includes(v as T)) throw new StanzaError("not-acceptable", `${name} must be one of ${choices.join(", ")}`);
    set(v as T);
  };
  text("muc#roomconfig_roomname", ctx.options.maxRoomNameLength, "muc.maxRoomNameLength", (v) => (next.name = v));
  text("muc#roomconfig_roomdesc", ctx.options.maxRoomDescriptionLength, "muc.maxRoomDescriptionLength", (v) => (next.description = v));
  flag("muc#roomconfig_persistentroom", (v) => (next.persistent = v));
  flag("muc#roomconfig_publicroom", (v) => (next.public = v));
  flag("muc#roomconfig_membersonly", (v) => (next.membersOnly = v));
  flag("muc#roomconfig_moderatedroom", (v) => (next.moderated = v));
  flag("muc#roomconfig_changesubject", (v) => (next.changeSubject = v));
  flag("muc#roomconfig_allowinvites", (v) => (next.allowInvites = v));
  choice("muc#roomconfig_whois", ["moderators", "anyone"] as const, (v) => (next.whois = v));
  choice("muc#roomconfig_allowpm", ["anyone", "participants", "moderators", "none"] as const, (v) => (next.allowPm = v));
  text("muc#roomconfig_roomsecret", ctx.options.maxPasswordLength, "muc.maxPasswordLength", (v) => (next.password = v));
  let protectedRoom: boolean | undefined;
  flag("muc#roomconfig_passwordprotectedroom", (v) => (protectedRoom = v));
  if (protectedRoom === false) next.password = "";
  if (protectedRoom === true && next.password === "") throw new StanzaError("not-acceptable", "a password-protected room needs muc#roomconfig_roomsecret");
  const count = (name: string, max: number, set: (n: number) => void) => {
    const v = one(name);
    if (v === undefined || v === "none" || v === "") return;
    if (!/^\d{1,9}$/.test(v) || Number(v) > max) throw new StanzaError("not-acceptable", `${name} must be a number up to ${max}`);
    set(Number(v));
  };
  count("muc#roomconfig_maxusers", ctx.options.maxOccupants || 1_000_000, (n) => (next.maxUsers = n));
  count("muc#maxhistoryfetch", ctx.options.historyMessages, (n) => (next.historyLength = n));
  count("muc#roomconfig_historylength", ctx.options.historyMessages, (n) => (next.historyLength = n));
  let owners: string[] | undefined;
  if (fields.has("muc#roomconfig_roomowners")) {
    owners = fields.get("muc#roomconfig_roomowners")!.filter((j) => j !== "");
    if (owners.length === 0) throw new StanzaError("not-acceptable", "a room keeps at least one owner");
  }
  if (next.persistent && !room.config.persistent) {
    const max = ctx.options.maxPersistentRoomsPerUser;
    if (max > 0 && !ctx.admins.has(owner) && (await ctx.persistentRoomsOwnedBy(owner)) >= max) {
      ctx.limitHit("muc.maxPersistentRoomsPerUser", room, owner, { max });
      throw new StanzaError("not-allowed", `you own ${max} persistent rooms already`);
    }
  }
  return { config: next, owners };
}
