/**
 * Roster items on the wire (RFC 6121 §2.1.2): serialising stored items and validating the single
 * <item/> of a roster set (§2.3.3, §2.5.3). Validation failures are StanzaErrors the IQ
 * dispatcher turns into error replies.
 */
import { Element, StanzaError, tryParseJid, x } from "@switchboard/xml";
import type { RosterItem } from "@switchboard/core";

export const NS_ROSTER = "jabber:iq:roster";
/** RFC 6121 §2.6.1: stream feature announcing roster versioning. */
export const NS_ROSTER_VER = "urn:xmpp:features:rosterver";

/** A roster item as seen by clients: the removal marker of §2.5.2 or a stored item. */
export type PushedItem = RosterItem | { jid: string; subscription: "remove" };

/** `<item jid name subscription ask approved><group/>…</item>` (RFC 6121 §2.1.2). */
export function rosterItemElement(item: PushedItem): Element {
  if (item.subscription === "remove") return x("item", { jid: item.jid, subscription: "remove" });
  const stored = item as RosterItem;
  return x(
    "item",
    {
      jid: stored.jid,
      name: stored.name,
      subscription: stored.subscription,
      // §2.1.2.2: 'ask' shows only the outbound pending state ("Pending Out").
      ask: stored.askOut ? "subscribe" : undefined,
      // §2.1.2.1 / §3.4: a pre-approved subscription is flagged for the client.
      approved: stored.approved ? "true" : undefined,
    },
    stored.groups.map((g) => x("group", null, g)),
  );
}

/** What a client asked for in a roster set. */
export type RosterSetRequest =
  | { action: "remove"; jid: string }
  | { action: "update"; jid: string; name: string | undefined; groups: string[] };

export interface RosterSetLimits {
  /** longest item name and group name, in characters */
  maxTextLength: number;
  /** most groups one item may carry */
  maxGroups: number;
}

/** Parses and validates the payload of a roster set (RFC 6121 §2.3.3 error cases). */
export function parseRosterSet(query: Element, limits: RosterSetLimits): RosterSetRequest {
  const items = query.getChildElements();
  // §2.1.5: a roster set contains exactly one <item/>.
  if (items.length !== 1 || items[0]!.name !== "item") {
    throw new StanzaError("bad-request", "a roster set must contain exactly one item");
  }
  const item = items[0]!;
  const rawJid = item.attrs.jid;
  if (!rawJid) throw new StanzaError("bad-request", "the roster item has no jid");
  const jid = tryParseJid(rawJid);
  // Roster items are accounts, never single resources.
  if (!jid || jid.resource !== "") throw new StanzaError("jid-malformed", "the roster item jid must be a valid bare JID");
  if (item.attrs.subscription === "remove") return { action: "remove", jid: jid.bare };

  // §2.1.2.5: any other 'subscription' value, and 'ask' (§2.1.2.2), are the server's to set and
  // are ignored; the client only controls the name and the groups.
  const name = item.attrs.name === "" ? undefined : item.attrs.name;
  if (name !== undefined && name.length > limits.maxTextLength) {
    throw new StanzaError("not-acceptable", `the item name exceeds ${limits.maxTextLength} characters`);
  }
  const groups: string[] = [];
  for (const child of item.getChildElements()) {
    if (child.name !== "group") continue;
    const group = child.getText();
    // §2.3.3: an empty group name is not acceptable, a repeated one is a bad request.
    if (group.trim() === "") throw new StanzaError("not-acceptable", "empty group names are not allowed");
    if (group.length > limits.maxTextLength) {
      throw new StanzaError("not-acceptable", `a group name exceeds ${limits.maxTextLength} characters`);
    }
    if (groups.includes(group)) throw new StanzaError("bad-request", `group "${group}" is listed twice`);
    groups.push(group);
  }
  if (groups.length > limits.maxGroups) throw new StanzaError("not-acceptable", `an item may be in at most ${limits.maxGroups} groups`);
  return { action: "update", jid: jid.bare, name, groups };
}

/** A fresh item for a contact the user adds (no subscription either way, §2.3.2). */
export function newRosterItem(jid: string): RosterItem {
  return { jid, groups: [], subscription: "none", askOut: false, askIn: false, approved: false, inRoster: true };
}
