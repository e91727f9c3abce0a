/**
 * Roster pushes (RFC 6121 §2.1.6): every change of the roster goes to each *interested*
 * resource of the owner (one that has requested the roster in this session). Exported for the
 * presence module, whose subscription state changes (§3) must be pushed too.
 */
import { x } from "@switchboard/xml";
import { pushToInterested, type Host, type RosterItem } from "@switchboard/core";
import { NS_ROSTER, rosterItemElement, type PushedItem } from "./items.js";

let pushSeq = 0;

/** A unique id per push, so client answers never collide with other server IQs. */
function pushId(): string {
  return `push-${(++pushSeq).toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}

/**
 * Sends a roster push for `item` to every interested resource of `ownerBare`. Hidden state
 * entries (inRoster=false) are invisible to clients and never pushed. The push has no 'from'
 * (§2.1.6: absent or the user's bare JID; absent is what every client accepts).
 */
export async function pushRosterItem(host: Host, ownerBare: string, item: PushedItem, version: number): Promise<void> {
  if (item.subscription !== "remove" && !(item as RosterItem).inRoster) return;
  await pushToInterested(host, ownerBare, "roster", (info) =>
    x("iq", { type: "set", id: pushId(), to: info.jid }, x("query", { xmlns: NS_ROSTER, ver: String(version) }, rosterItemElement(item))),
  );
}

/**
 * Stores an item and pushes it; when the item no longer holds any state and is not in the
 * visible roster it is deleted instead, so hidden entries do not pile up.
 */
export async function saveRosterItem(host: Host, ownerBare: string, item: RosterItem): Promise<void> {
  if (!item.inRoster && isEmptyState(item)) {
    if (await host.store.roster.get(ownerBare, item.jid)) await host.store.roster.remove(ownerBare, item.jid);
    return;
  }
  const version = await host.store.roster.put(ownerBare, item);
  await pushRosterItem(host, ownerBare, item, version);
}

function isEmptyState(item: RosterItem): boolean {
  return item.subscription === "none" && !item.askIn && !item.askOut && !item.approved;
}
