/**
 * The hand-off from message delivery to storage (RFC 6121 §8.5.2.1.1: "the server MAY store the
 * message … for later delivery"). The core event set is fixed, so the message module owns this
 * small typed hook bus, one per Host. XEP-0160 offline storage registers here today; an archive
 * (XEP-0313) or push notifications (XEP-0357) can register beside it later at other priorities.
 *
 * Contract: a handler returns true when it took responsibility for the message — it stored it,
 * or it already answered the sender itself (e.g. <resource-constraint/> when a quota is full).
 * When no handler returns true the message module bounces <service-unavailable/>: an
 * undeliverable chat/normal message is never dropped in silence.
 */
import { HookBus, type Host, type StanzaEvent } from "@switchboard/core";

export interface UndeliverableEvents {
  /**
   * A chat or normal message to an existing local account with no resource that may receive it.
   * `to` in the event is the recipient's bare JID (the stanza keeps its original 'to').
   */
  "message/offline": StanzaEvent;
}

const buses = new WeakMap<Host, HookBus<UndeliverableEvents>>();

/** The undeliverable-message hooks of one host (created on first use). */
export function undeliverableHooks(host: Host): HookBus<UndeliverableEvents> {
  let bus = buses.get(host);
  if (!bus) buses.set(host, (bus = new HookBus<UndeliverableEvents>()));
  return bus;
}
