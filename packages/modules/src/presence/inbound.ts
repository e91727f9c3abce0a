/**
 * Inbound presence for local accounts: subscription stanzas (RFC 6121 §3.1.3, §3.2.3, §3.3.3,
 * §3.4 and the inbound rows of Appendix A), probes (§4.3.2), and plain presence delivery to a
 * bare JID (§8.5.2.1.1: every available resource) or a full JID (§8.5.3: that resource or nothing).
 */
import { x } from "@switchboard/xml";
import type { Host, RosterItem, StanzaEvent } from "@switchboard/core";
import { saveRosterItem } from "../roster/push.js";
import { newRosterItem } from "../roster/items.js";
import { answerProbe, receivesPresenceFrom, sendCurrentPresence, sendUnavailableFromAll, sendsPresenceTo } from "./probes.js";
import { deliverToAvailable, isSubscriptionType, readdressed, type SubscriptionType } from "./stanzas.js";

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

async function handleInboundSubscription(host: Host, ev: StanzaEvent, type: SubscriptionType): Promise<void> {
  const user = ev.to.bare;
  const contact = ev.from.bare;
  const existing = await host.store.roster.get(user, contact);
  const stanza = readdressed(ev.stanza, contact, user);
  switch (type) {
    case "subscribe":
      await inboundSubscribe(host, user, contact, existing, ev);
      return;
    case "subscribed":
      // §3.1.6: only an outstanding request can be approved; anything else is ignored silently.
      if (!existing?.askOut || receivesPresenceFrom(existing)) return;
      await saveRosterItem(host, user, { ...existing, askOut: false, subscription: existing.subscription === "from" ? "both" : "to" });
      await deliverToAvailable(host, user, stanza);
      return;
    case "unsubscribe": {
      if (!existing || !(sendsPresenceTo(existing) || existing.askIn)) return;
      const wasSending = sendsPresenceTo(existing);
      await saveRosterItem(host, user, {
        ...existing,
        subscription: existing.subscription === "both" ? "to" : existing.subscription === "from" ? "none" : existing.subscription,
        askIn: false,
        askInStatus: undefined,
      });
      await deliverToAvailable(host, user, stanza);
      // §3.3.3: the former subscriber sees the user's resources go offline.
      if (wasSending) await sendUnavailableFromAll(host, user, contact);
      return;
    }
    case "unsubscribed":
      if (!existing || !(receivesPresenceFrom(existing) || existing.askOut)) return;
      await saveRosterItem(host, user, {
        ...existing,
        subscription: existing.subscription === "both" ? "from" : existing.subscription === "to" ? "none" : existing.subscription,
        askOut: false,
      });
      await deliverToAvailable(host, user, stanza);
      return;
  }
}

/**
 * §3.1.3: a request the user already granted, or pre-approved (§3.4), is answered by the server;
 * otherwise it is remembered (so it can be redelivered at login) and shown to the user.
 */
async function inboundSubscribe(host: Host, user: string, contact: string, existing: RosterItem | undefined, ev: StanzaEvent): Promise<void> {
  const autoReply = () => host.router.route(x("presence", { type: "subscribed", from: user, to: contact }));
  if (sendsPresenceTo(existing)) {
    await autoReply();
    return;
  }
  if (!existing && !(await host.store.accounts.exists(user))) {
    // §8.5.1 (no such account): COMPAT: like ejabberd, tell the requester at once.
    await host.router.route(x("presence", { type: "unsubscribed", from: user, to: contact }));
    return;
  }
  // Appendix A.3.1 ("None + Pending In", "None + Pending Out+In", "To + Pending In"): a request is
  // already waiting for the user; it is not delivered again and the stored one is kept (§3.1.3:
  // one request is kept and redelivered at login).
  if (existing?.askIn) return;
  if (existing?.approved) {
    await saveRosterItem(host, user, { ...existing, inRoster: true, approved: false, subscription: existing.subscription === "to" ? "both" : "from" });
    await autoReply();
    await sendCurrentPresence(host, user, contact);
    return;
  }
  const status = ev.stanza.getChildText("status") ?? undefined;
  const item: RosterItem = {
    ...(existing ?? { ...newRosterItem(contact), inRoster: false }),
    askIn: true,
    askInStatus: status === undefined ? undefined : status.slice(0, MAX_STATUS_LENGTH),
  };
  // Pending In is invisible in the roster (§2.1.2.2 'ask' is outbound only): stored, not pushed.
  await host.store.roster.put(user, item);
  await deliverToAvailable(host, user, readdressed(ev.stanza, contact, user));
}
