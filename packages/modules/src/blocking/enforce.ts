/**
 * XEP-0191 enforcement.
 *
 * Inbound (§3.5): the server MUST NOT deliver stanzas from a blocked JID to the user; it
 * answers IQ get/set and messages with <service-unavailable/> (as if the user did not exist)
 * and drops presence silently. Checked twice: when the stanza is routed to the user (so a
 * blocked sender's message is not stored offline and a subscription request is not recorded),
 * and on `stanza/deliver` for everything other modules write directly to a resource
 * (presence broadcasts, probes answered from the registry, offline replays).
 *
 * Outbound (§3.6): a stanza the user sends to a JID they block is not routed; messages and
 * IQs get <not-acceptable/> with <blocked xmlns='urn:xmpp:blocking:errors'/>, presence is
 * dropped. Server-built stanzas on the user's behalf are vetoed on delivery, except the
 * unavailable presence of §3.3 and errors (the bounces above).
 */
import type { DeliverEvent, Host, ModuleContext, StanzaEvent } from "@switchboard/core";
import { type Element, type Jid, NS_BLOCKING, bareOf, errorReply, tryParseJid, x } from "@switchboard/xml";
import { type BlocklistCache, blocklistMatches } from "./blocklist.js";

export const NS_BLOCKING_ERRORS = `${NS_BLOCKING}:errors`;

/** runs before the modules that store or deliver (offline, presence subscriptions) */
const INBOUND = { band: "policy", offset: 100 } as const;
const OUTBOUND = { band: "policy" } as const;

export function enforceBlocking(ctx: ModuleContext<unknown>, cache: BlocklistCache): void {
  const { host } = ctx;
  /** stanzas already answered, so a message delivered to several resources bounces once */
  const bounced = new WeakSet<Element>();

  const isBlockedFor = async (owner: string, other: Jid): Promise<boolean> => {
    const list = cache.peek(owner) ?? (await cache.get(owner));
    return blocklistMatches(list, other);
  };

  const refuseInbound = async (stanza: Element, sender: Jid, recipient: Jid): Promise<void> => {
    const type = stanza.attrs.type;
    if (stanza.name === "presence" || type === "error" || type === "result" || bounced.has(stanza)) return;
    bounced.add(stanza);
    const ev: StanzaEvent = { stanza, kind: stanza.name as StanzaEvent["kind"], from: sender, to: recipient };
    await host.router.bounce(ev, "service-unavailable");
  };

  const inbound = async (ev: StanzaEvent): Promise<boolean> => {
    if (isExempt(host, ev.from, ev.to.bare)) return false;
    if (!(await isBlockedFor(ev.to.bare, ev.from))) return false;
    await refuseInbound(ev.stanza, ev.from, ev.to);
    return true;
  };
  for (const event of ["message/bare", "message/full", "presence/bare", "presence/full", "iq/bare", "iq/full"] as const) {
    ctx.on(event, inbound, INBOUND);
  }

  const checkDelivery = async ({ stanza, target }: DeliverEvent): Promise<boolean> => {
    const fromAttr = stanza.attrs.from;
    if (!fromAttr) return false;
    const recipientBare = bareOf(target.jid);
    const senderBare = bareOf(fromAttr);
    if (senderBare === recipientBare || fromAttr === host.domain) return false;
    // Fast path: both lists cached and empty (the common case) → no parsing, no awaiting.
    const recipientList = cache.peek(recipientBare) ?? (await cache.get(recipientBare));
    const senderIsLocal = senderBare.endsWith(`@${host.domain}`);
    const senderList = senderIsLocal ? (cache.peek(senderBare) ?? (await cache.get(senderBare))) : undefined;
    if (recipientList.size === 0 && (senderList?.size ?? 0) === 0) return false;
    const sender = tryParseJid(fromAttr);
    const recipient = tryParseJid(target.jid);
    if (!sender || !recipient) return false;
    if (blocklistMatches(recipientList, sender)) {
      await refuseInbound(stanza, sender, recipient);
      return true;
    }
    if (senderList && blocklistMatches(senderList, recipient)) {
      const type = stanza.attrs.type;
      return !(type === "error" || (stanza.name === "presence" && type === "unavailable"));
    }
    return false;
  };
  ctx.on("stanza/deliver", checkDelivery, INBOUND);

  ctx.on(
    "stanza/out",
    async (ev) => {
      if (isExempt(host, ev.to, ev.from.bare)) return false;
      if (!(await isBlockedFor(ev.from.bare, ev.to))) return false;
      const type = ev.stanza.attrs.type;
      if (ev.kind === "presence" || type === "error" || type === "result") return true;
      const reply = errorReply(ev.stanza, "not-acceptable", "you have blocked this address");
      if (!reply.attrs.to) reply.attrs.to = ev.from.full;
      reply.getChild("error")?.cnode(x("blocked", { xmlns: NS_BLOCKING_ERRORS }));
      await host.router.reply(ev, reply);
      return true;
    },
    OUTBOUND,
  );
}

/**
 * Traffic between a user's own resources and from/to the server domain itself is never
 * blocked: a user who blocks their own server would otherwise lose roster pushes and pings.
 */
function isExempt(host: Host, other: Jid, ownerBare: string): boolean {
  return other.bare === ownerBare || other.full === host.domain;
}
