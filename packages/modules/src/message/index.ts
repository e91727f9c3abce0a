/**
 * RFC 6121 §8.5.2 (messages to a local bare JID) and §8.5.3 (to a full JID), local domain only;
 * messages to other domains leave through the router's "route/remote".
 *
 * Undeliverable chat/normal messages go to the core's "message/undeliverable" event (offline
 * storage hooks it); when nothing takes them the sender gets <service-unavailable/>.
 */
import { defineModule, delivered, type Host, type StanzaEvent } from "@switchboard/core";
import { bareRecipients, messageType } from "./delivery.js";
import { isStandaloneChatState } from "./storable.js";

export { isStandaloneChatState, isStorable, storability, type Storability } from "./storable.js";
export { bareRecipients, isEligibleForBare, messageType, type MessageType } from "./delivery.js";

export const messageModule = defineModule<Record<string, never>>({
  name: "message",
  spec: "RFC 6121 §8.5 (messages)",
  defaults: {},
  setup(ctx) {
    const host = ctx.host;
    ctx.on("message/bare", (ev) => deliverToBare(host, ev));
    ctx.on("message/full", (ev) => deliverToFull(host, ev));
  },
});

/** §8.5.3.1: an online resource gets it; §8.5.3.2.1: otherwise most types fall back to the bare JID. */
async function deliverToFull(host: Host, ev: StanzaEvent): Promise<true> {
  const type = messageType(ev.stanza);
  // Delivered also when deliberately suppressed (blocking); a resource that is offline, gone or
  // refusing (a full outbound buffer) falls back to the bare JID like an offline resource.
  if (delivered(await host.deliverToResource(ev.to.full, ev.stanza))) return true;
  if (type === "groupchat") {
    // §8.5.3.2.1: a groupchat message to an unavailable resource is answered with an error.
    await host.router.bounce(ev, "service-unavailable");
    return true;
  }
  if (type === "error") return true; // §8.5.3.2.1: silently ignored, an error never answers an error
  return deliverToBare(host, ev);
}

/** §8.5.2: a message addressed to the account (or falling back to it). */
async function deliverToBare(host: Host, ev: StanzaEvent): Promise<true> {
  const type = messageType(ev.stanza);
  const bare = ev.to.bare;
  const resources = await host.registry.list(bare);
  // §8.5.1: no such account → service-unavailable, revealing nothing more. A bound resource
  // proves the account exists, which spares the store a lookup on the hot path.
  if (resources.length === 0 && !(await host.store.accounts.exists(bare))) {
    if (type !== "error") await host.router.bounce(ev, "service-unavailable");
    return true;
  }
  if (type === "groupchat") {
    // §8.5.2.1.1: groupchat to a bare JID is an error whatever the account's state.
    await host.router.bounce(ev, "service-unavailable");
    return true;
  }
  let reached = false;
  for (const info of bareRecipients(resources, type)) {
    if (delivered(await host.deliver(info, ev.stanza))) reached = true;
  }
  // headline (§8.5.2.1.1) and error (RFC 6120 §8.3.1) messages are never stored nor bounced.
  if (reached || type === "headline" || type === "error") return true;

  const offlineEvent: StanzaEvent = { ...ev, to: ev.to.toBare() };
  if (await host.hooks.fire("message/undeliverable", offlineEvent)) return true;
  // XEP-0085 §5.5: "composing" to someone who is not there is not worth an error.
  if (isStandaloneChatState(ev.stanza)) return true;
  await host.router.bounce(ev, "service-unavailable");
  return true;
}
