/**
 * Who may retrieve a node's items and receive its notifications (XEP-0060 §4.5 access models,
 * XEP-0163 §4.2 and §4.3): the owner always; under `presence` a contact the owner shares
 * presence with (the owner's roster item for them is 'from' or 'both'); under `open` anyone;
 * under `whitelist` nobody else (PEP has no affiliation management here, so the list holds the
 * owner only: XEP-0223 private storage).
 */
import type { Host, PepNodeConfig, RosterItem } from "@switchboard/core";
import { pubsubError } from "./ns.js";

export function sharesPresence(item: RosterItem | undefined): boolean {
  return item?.subscription === "from" || item?.subscription === "both";
}

/** Throws the §6.5.9 refusal when `requester` (a bare JID) may not retrieve the node's items. */
export async function assertMayRetrieve(host: Host, owner: string, requester: string, config: PepNodeConfig): Promise<void> {
  if (requester === owner || config.accessModel === "open") return;
  if (config.accessModel === "whitelist") throw pubsubError("not-allowed", "closed-node", "only the owner may retrieve this node's items");
  if (!sharesPresence(await host.store.roster.get(owner, requester))) {
    throw pubsubError("not-authorized", "presence-subscription-required", "a presence subscription to the owner is required");
  }
}

/** Whether a contact (not the owner) who shares presence with the owner gets notifications of the node. */
export function contactsMayReceive(config: PepNodeConfig): boolean {
  return config.accessModel !== "whitelist";
}
