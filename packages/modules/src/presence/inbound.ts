/**
 * Inbound presence for local accounts: subscription stanzas (RFC 6121 §3.1.3, §3.2.3, §3.3.3,
 * §3.4, by the Appendix A.3 rows of transitions.ts), probes (§4.3.2), and plain presence delivery
 * to a bare JID (§8.5.2.1.1: every available resource) or a full JID (§8.5.3: that resource or
 * nothing).
 */
import { x } from "@switchboard/xml";
import type { Host, StanzaEvent } from "@switchboard/core";
import { saveRosterItem } from "../roster/push.js";
import { newRosterItem } from "../roster/items.js";
import { answerProbe, sendCurrentPresence, sendUnavailableFromAll } from "./probes.js";
import { deliverToAvailable, isSubscriptionType, readdressed, type SubscriptionType } from "./stanzas.js";
import { applyTransition, isPendingIn, stateOf, transitionFor } from "./transitions.js";

/** Longest subscription request status kept for redelivery at login. */
const MAX_STATUS_LENGTH = 1024;

/** "presence/bare". */
export async function handlePresenceToBare(host: Host, ev: StanzaEvent): Promise<boolean> {
  const type = ev.stanza.attrs.type;
  if (isSubscriptionType(type)) await handleInboundSubscription(host, ev, type);
  else if (type === "probe") await answerProbe(host, ev);
  else if (type === undefined || type === "unavailable" || type === "error") await deliverToAvailable(host, ev.to.bare, ev.stanza);
  return true;
}

/** "presence/full". */
export async function handlePresenceToFull(host: Host, ev: StanzaEvent): Promise<boolean> {
  const type = ev.stanza.attrs.type;
  // §3.1.3 and siblings: subscription state belongs to the account, whatever the resource.
  if (isSubscriptionType(type)) await handleInboundSubscription(host, { ...ev, to: ev.to.toBare() }, type);
  else if (type === "probe") await answerProbe(host, ev);
  else await host.router.deliverToFull(ev);
  return true;
}

/**
 * §3.1.3, §3.1.6, §3.2.3, §3.3.3 and §3.4: the user's item for the contact moves as Appendix A.3
 * says (transitions.ts); the server then delivers, answers or sends presence as the row lists.
 */
async function handleInboundSubscription(host: Host, ev: StanzaEvent, type: SubscriptionType): Promise<void> {
  const user = ev.to.bare;
  const contact = ev.from.bare;
  const existing = await host.store.roster.get(user, contact);
  if (type === "subscribe" && !existing && !(await host.store.accounts.exists(user))) {
    // §8.5.1 (no such account): COMPAT: like ejabberd, tell the requester at once.
    await host.router.route(x("presence", { type: "unsubscribed", from: user, to: contact }));
    return;
  }
  const state = stateOf(existing);
  const transition = transitionFor("inbound", type, state);
  if (transition.next !== state) {
    // A request from a contact the user never added lives in a hidden entry until the user
    // approves it (A.1, "None + Pending In").
    const next = applyTransition(existing ?? { ...newRosterItem(contact), inRoster: false }, transition);
    if (isPendingIn(transition.next) && !isPendingIn(state)) {
      // A new request: its status is kept for redelivery at login (§3.1.3). Pending In is
      // invisible in the roster (§2.1.2.2 'ask' is outbound only): stored, not pushed.
      const status = ev.stanza.getChildText("status") ?? undefined;
      await host.store.roster.put(user, { ...next, askInStatus: status?.slice(0, MAX_STATUS_LENGTH) });
    } else {
      await saveRosterItem(host, user, next);
    }
  }
  for (const effect of transition.effects) {
    switch (effect) {
      case "deliver":
        await deliverToAvailable(host, user, readdressed(ev.stanza, contact, user));
        break;
      case "auto-reply":
        await host.router.route(x("presence", { type: "subscribed", from: user, to: contact }));
        break;
      case "current presence":
        await sendCurrentPresence(host, user, contact);
        break;
      case "unavailable":
        await sendUnavailableFromAll(host, user, contact);
        break;
      case "route":
        throw new Error(`inbound subscription row with the outbound effect '${effect}'`);
    }
  }
}
