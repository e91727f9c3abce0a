/**
 * Service discovery of the MUC service (XEP-0045 §6): the service's identity and features
 * (§6.2), its public rooms (§6.3) paged with XEP-0059 result set management for large services,
 * and each room's identity, features and muc#roominfo form (§6.4).
 */
import { StanzaError, type Element, NS_DISCO_INFO, NS_DISCO_ITEMS, NS_PING, x } from "@switchboard/xml";
import type { MucContext } from "./context.js";
import { FORM_ROOMINFO, NS_DATA, NS_MUC, NS_OCCUPANT_ID, NS_RSM, NS_SELF_PING } from "./ns.js";
import type { Room } from "./room.js";

const SERVICE_NAME = "Chatrooms";

export function serviceInfo(query: Element): Element {
  if (query.attrs.node) throw new StanzaError("item-not-found", `unknown node '${query.attrs.node}'`);
  return x(
    "query",
    { xmlns: NS_DISCO_INFO },
    x("identity", { category: "conference", type: "text", name: SERVICE_NAME }),
    [NS_DISCO_INFO, NS_DISCO_ITEMS, NS_MUC, NS_PING, NS_RSM, NS_OCCUPANT_ID].map((v) => x("feature", { var: v })),
  );
}

/**
 * The listed (public, configured) rooms of every worker, by JID; `max`/`after`/`before`/`index`
 * page them (XEP-0059 §2).
 */
export function serviceItems(entries: Map<string, string>, query: Element): Element {
  const listed = [...entries]
    .map(([bare, entry]) => ({ bare, name: (JSON.parse(entry) as { name?: string }).name }))
    .sort((a, b) => (a.bare < b.bare ? -1 : a.bare > b.bare ? 1 : 0));
  const set = query.getChild("set", NS_RSM);
  const item = (r: { bare: string; name?: string }) => x("item", { jid: r.bare, name: r.name });
  if (!set) return x("query", { xmlns: NS_DISCO_ITEMS }, listed.map(item));
  const maxText = set.getChildText("max");
  const max = maxText === null ? listed.length : Number(maxText);
  if (!Number.isInteger(max) || max < 0) throw new StanzaError("bad-request", "RSM <max/> is a non-negative integer");
  let start = 0;
  let end = listed.length;
  const after = set.getChildText("after");
  const before = set.getChildText("before");
  const index = set.getChildText("index");
  if (after !== null) start = listed.findIndex((r) => r.bare > after);
  if (start === -1) start = listed.length;
  if (index !== null) {
    start = Number(index);
    if (!Number.isInteger(start) || start < 0) throw new StanzaError("bad-request", "RSM <index/> is a non-negative integer");
  }
  if (before !== null) {
    end = before === "" ? listed.length : listed.findIndex((r) => r.bare >= before);
    if (end === -1) end = listed.length;
    start = Math.max(0, end - max);
  }
  const page = listed.slice(start, Math.min(end, start + max));
  const first = page[0];
  const last = page[page.length - 1];
  return x(
    "query",
    { xmlns: NS_DISCO_ITEMS },
    page.map(item),
    x(
      "set",
      { xmlns: NS_RSM },
      first && x("first", { index: String(start) }, first.bare),
      last && x("last", {}, last.bare),
      x("count", {}, String(listed.length)),
    ),
  );
}

export function roomInfo(ctx: MucContext, room: Room, query: Element): Element {
  if (query.attrs.node) throw new StanzaError("item-not-found", `unknown node '${query.attrs.node}'`);
  const c = room.config;
  const features = [
    NS_MUC,
    NS_DISCO_INFO,
    NS_OCCUPANT_ID,
    NS_SELF_PING,
    c.public ? "muc_public" : "muc_hidden",
    c.persistent ? "muc_persistent" : "muc_temporary",
    c.membersOnly ? "muc_membersonly" : "muc_open",
    c.moderated ? "muc_moderated" : "muc_unmoderated",
    c.password !== "" ? "muc_passwordprotected" : "muc_unsecured",
    c.whois === "anyone" ? "muc_nonanonymous" : "muc_semianonymous",
  ];
  const field = (name: string, value: string, label?: string) => x("field", { var: name, label }, x("value", {}, value));
  return x(
    "query",
    { xmlns: NS_DISCO_INFO },
    x("identity", { category: "conference", type: "text", name: c.name || room.jid.local }),
    features.map((v) => x("feature", { var: v })),
    x(
      "x",
      { xmlns: NS_DATA, type: "result" },
      x("field", { var: "FORM_TYPE", type: "hidden" }, x("value", {}, FORM_ROOMINFO)),
      field("muc#roominfo_description", c.description, "Description"),
      field("muc#roominfo_occupants", String(room.occupants.size), "Number of occupants"),
      field("muc#roominfo_subject", room.subject?.text ?? "", "Subject"),
      field("muc#roomconfig_roomname", c.name, "Title"),
      field("muc#maxhistoryfetch", String(c.historyLength), "Messages kept for newcomers"),
      ctx.options.maxOccupants > 0 || c.maxUsers > 0 ? field("muc#roomconfig_maxusers", String(c.maxUsers || ctx.options.maxOccupants)) : undefined,
    ),
  );
}

/** §6.5: a room lists no items (its occupants are not for strangers, as in Prosody). */
export function roomItems(query: Element): Element {
  if (query.attrs.node) throw new StanzaError("item-not-found", `unknown node '${query.attrs.node}'`);
  return x("query", { xmlns: NS_DISCO_ITEMS });
}
