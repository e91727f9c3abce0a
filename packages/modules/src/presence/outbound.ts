/**
 * Outbound subscription handling, RFC 6121 §3.1.2, §3.2.2, §3.3.2, §3.4 and the outbound rows
 * of Appendix A: the user's server updates the user's roster item for the contact, pushes it,
 * and forwards the stanza stamped with bare JIDs on both sides (§3.1.2).
 */
import { type Element } from "@switchboard/xml";
import type { Host, RosterItem, StanzaEvent } from "@switchboard/core";
import { saveRosterItem } from "../roster/push.js";
import { newRosterItem } from "../roster/items.js";
import { sendCurrentPresence, sendUnavailableFromAll, sendsPresenceTo } from "./probes.js";
import { readdressed, type SubscriptionType } from "./stanzas.js";

/** Processes one subscription stanza a local client sent; the stanza is always consumed here. */
export async function handleOutboundSubscription(host: Host, ev: StanzaEvent, type: SubscriptionType): Promise<void> {
  const user = ev.from.bare;
  const contact = ev.to.bare;
  const stamped = readdressed(ev.stanza, user, contact);
  const existing = await host.store.roster.get(user, contact);
  switch (type) {
    case "subscribe":
      await outboundSubscribe(host, user, contact, existing);
      await host.router.route(stamped);
      return;
    case "subscribed":
      await outboundSubscribed(host, user, contact, existing, stamped);
      return;
    case "unsubscribe":
      if (existing && (existing.askOut || existing.subscription === "to" || existing.subscription === "both")) {
        await saveRosterItem(host, user, { ...existing, askOut: false, subscription: existing.subscription === "both" ? "from" : "none" });
      }
      // Forwarded even without local state: it resynchronises a contact whose server still
      // believes the user is subscribed.
      await host.router.route(stamped);
      return;
    case "unsubscribed": {
      const wasSending = sendsPresenceTo(existing);
      // Appendix A.2.4: routed only when it cancels the contact's subscription or denies its
      // pending request; otherwise it changes nothing the contact knows of (at most it withdraws
      // a pre-approval, §3.4) and is not routed.
      const changesState = wasSending || existing?.askIn === true;
      if (existing && (changesState || existing.approved)) {
        await saveRosterItem(host, user, {
          ...existing,
          subscription: existing.subscription === "both" ? "to" : existing.subscription === "from" ? "none" : existing.subscription,
          askIn: false,
          askInStatus: undefined,
          approved: false,
        });
      }
      if (changesState) await host.router.route(stamped);
      if (wasSending) await sendUnavailableFromAll(host, user, contact);
      return;
    }
  }
}

/** §3.1.2: the contact enters the roster (if absent) in state "Pending Out". */
async function outboundSubscribe(host: Host, user: string, contact: string, existing: RosterItem | undefined): Promise<void> {
  const item = existing ?? newRosterItem(contact);
  const alreadySubscribed = item.subscription === "to" || item.subscription === "both";
  const changed = !existing || !item.inRoster || (!alreadySubscribed && !item.askOut);
  if (!changed) return;
  await saveRosterItem(host, user, { ...item, inRoster: true, askOut: alreadySubscribed ? item.askOut : true });
}

/**
 * §3.1.5: approving a pending request grants the subscription and sends the user's presence.
 * Without a pending request it is a pre-approval (§3.4), remembered and not forwarded; when the
 * contact is already subscribed it has no effect and is dropped (Appendix A.3.1).
 */
async function outboundSubscribed(host: Host, user: string, contact: string, existing: RosterItem | undefined, stamped: Element): Promise<void> {
  if (existing?.askIn) {
    // §3.1.5: the approved contact appears in the user's roster even if it was only a pending request.
    await saveRosterItem(host, user, {
      ...existing,
      inRoster: true,
      subscription: existing.subscription === "to" || existing.subscription === "both" ? "both" : "from",
      askIn: false,
      askInStatus: undefined,
      approved: false,
    });
    await host.router.route(stamped);
    await sendCurrentPresence(host, user, contact);
    return;
  }
  if (sendsPresenceTo(existing)) return;
  const item = existing ?? { ...newRosterItem(contact), inRoster: false };
  if (!item.approved) await saveRosterItem(host, user, { ...item, approved: true });
}
