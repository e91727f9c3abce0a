/**
 * The two bookmark formats (XEP-0411 §4 maps one onto the other): XEP-0048's one
 * `<storage xmlns='storage:bookmarks'/>` element in private XML, and XEP-0402's one PEP item per
 * room (`id` the room's JID, `<conference xmlns='urn:xmpp:bookmarks:1'/>`).
 */
import { x, type Element } from "@switchboard/xml";

export const NS_BOOKMARKS_LEGACY = "storage:bookmarks";
export const NS_BOOKMARKS = "urn:xmpp:bookmarks:1";

export interface Bookmark {
  jid: string;
  name?: string;
  autojoin: boolean;
  nick?: string;
  password?: string;
  /** XEP-0402 §3 <extensions/>, kept when the legacy side rewrites the item */
  extensions?: Element;
}

const truthy = (v: string | undefined) => v === "true" || v === "1";

/** The conferences of a legacy `<storage/>` (rooms without a jid are not bookmarks of a room). */
export function fromLegacy(storage: Element): Bookmark[] {
  return storage
    .getChildren("conference")
    .filter((c) => c.attrs.jid)
    .map((c) => ({
      jid: c.attrs.jid!,
      name: c.attrs.name || undefined,
      autojoin: truthy(c.attrs.autojoin),
      nick: c.getChildText("nick") ?? undefined,
      password: c.getChildText("password") ?? undefined,
    }));
}

export function fromItem(id: string, conference: Element): Bookmark {
  return {
    jid: id,
    name: conference.attrs.name || undefined,
    autojoin: truthy(conference.attrs.autojoin),
    nick: conference.getChildText("nick") ?? undefined,
    password: conference.getChildText("password") ?? undefined,
    extensions: conference.getChild("extensions"),
  };
}

/** The XEP-0402 payload of a bookmark. */
export function toItemPayload(b: Bookmark): Element {
  return x(
    "conference",
    { xmlns: NS_BOOKMARKS, name: b.name, autojoin: b.autojoin ? "true" : undefined },
    b.nick !== undefined && x("nick", {}, b.nick),
    b.password !== undefined && x("password", {}, b.password),
    b.extensions,
  );
}

/** A legacy `<storage/>` with these rooms, keeping the other children (`<url/>`) of `previous`. */
export function toLegacy(bookmarks: Bookmark[], previous: Element | undefined): Element {
  return x(
    "storage",
    { xmlns: NS_BOOKMARKS_LEGACY },
    bookmarks.map((b) =>
      x("conference", { jid: b.jid, name: b.name, autojoin: b.autojoin ? "true" : "false" }, b.nick !== undefined && x("nick", {}, b.nick), b.password !== undefined && x("password", {}, b.password)),
    ),
    previous?.getChildElements().filter((c) => c.name !== "conference"),
  );
}
