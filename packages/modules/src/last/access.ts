/**
 * Who may learn a user's last activity (XEP-0012 §4, §6, §9): "only those entities that have
 * permission to view the user's presence via a presence subscription", i.e. the user itself
 * and contacts whose roster item in the user's roster has subscription 'from' or 'both'
 * (RFC 6121 §3.1.1). Blocking (XEP-0191) narrows it further; the blocking module refuses those
 * stanzas before they get here.
 */
import type { Jid } from "@switchboard/xml";
import type { Host } from "@switchboard/core";

export async function mayViewPresence(host: Host, requester: Jid, owner: string): Promise<boolean> {
  if (requester.bare === owner) return true;
  const item = await host.store.roster.get(owner, requester.bare);
  return item?.subscription === "from" || item?.subscription === "both";
}
