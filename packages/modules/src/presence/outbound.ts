/**
 * Outbound subscription handling, RFC 6121 §3.1.2, §3.1.5, §3.2.2, §3.3.2 and §3.4: the user's
 * server moves the user's roster item for the contact as Appendix A.2 says (transitions.ts),
 * pushes it, and forwards the stanza stamped with bare JIDs on both sides (§3.1.2) when the row
 * routes it.
 */
import type { Host, StanzaEvent } from "@switchboard/core";
import { saveRosterItem } from "../roster/push.js";
import { newRosterItem } from "../roster/items.js";
import { sendCurrentPresence, sendUnavailableFromAll } from "./probes.js";
import { readdressed, type SubscriptionType } from "./stanzas.js";
import { applyTransition, stateOf, transitionFor } from "./transitions.js";

/** Processes one subscription stanza a local client sent; the stanza is always consumed here. */
export async function handleOutboundSubscription(host: Host, ev: StanzaEvent, type: SubscriptionType): Promise<void> {
  const user = ev.from.bare;
  const contact = ev.to.bare;
  const existing = await host.store.roster.get(user, contact);
  const state = stateOf(existing);
  const transition = transitionFor("outbound", type, state);
  // A contact the user never dealt with starts as a hidden entry: a request makes it visible
  // (§3.1.2), a mere pre-approval keeps it hidden (applyTransition decides).
  const current = existing ?? { ...newRosterItem(contact), inRoster: false };
  const next = applyTransition(current, transition);
  if (transition.next !== state || next.inRoster !== current.inRoster) await saveRosterItem(host, user, next);
  for (const effect of transition.effects) {
    switch (effect) {
      case "route":
        await host.router.route(readdressed(ev.stanza, user, contact));
        break;
      case "current presence":
        await sendCurrentPresence(host, user, contact);
        break;
      case "unavailable":
        await sendUnavailableFromAll(host, user, contact);
        break;
      case "deliver":
      case "auto-reply":
        throw new Error(`outbound subscription row with the inbound effect '${effect}'`);
    }
  }
}
