/**
 * XEP-0280 message carbons: clients opt in per resource (§4), copies of messages the account
 * sends (§5.2 <sent/>) and receives (§5.3 <received/>) go to its other opted-in resources.
 * The flag lives in the session registry (ext.carbons) so every node sees it.
 */
import { defineModule, type Host, type IqHandler, type SessionInfo, type StanzaEvent } from "@switchboard/core";
import { Element, NS_CARBONS, StanzaError } from "@switchboard/xml";
import { bareRecipients, messageType } from "../message/delivery.js";
import { carbonCopy, carbonsEnabled, isCarbonEligible, isPrivate } from "./copies.js";

export { carbonCopy, carbonsEnabled, isCarbonEligible, isPrivate } from "./copies.js";

/** Runs before the message module delivers, so the copies can be computed from the same state. */
const BEFORE_DELIVERY = { band: "feature", offset: 10 } as const;
/** Runs after limits and blocking on outgoing stanzas, so refused messages get no copies. */
const AFTER_FILTERS = { band: "feature", offset: -100 } as const;

export const carbonsModule = defineModule<Record<string, never>>({
  name: "carbons",
  spec: "XEP-0280",
  defaults: {},
  setup(ctx) {
    const host = ctx.host;
    ctx.hostFeature(NS_CARBONS);
    ctx.iq({ type: "set", xmlns: NS_CARBONS, name: "enable", targets: ["bare"] }, toggle(host, true));
    ctx.iq({ type: "set", xmlns: NS_CARBONS, name: "disable", targets: ["bare"] }, toggle(host, false));
    // XEP-0280 §4 via XEP-0386: <enable/> inside the Bind 2 request, nothing in <bound/>.
    ctx.bindInline(NS_CARBONS, async (session, request) => {
      if (request.name !== "enable") return;
      const info = await host.registry.get(session.jid.full);
      if (info?.sessionId === session.id) await host.registry.update(info.jid, info.sessionId, { ext: { ...info.ext, carbons: true } });
    });

    // Messages whose sender opted out; remembered because <private/> is left out on the way out.
    const privateMessages = new WeakSet<Element>();

    ctx.on(
      "stanza/out",
      async (ev) => {
        if (ev.kind !== "message") return;
        if (isPrivate(ev.stanza)) {
          // §7: the sending server SHOULD remove <private/> before forwarding to the recipient.
          // The router goes on with a copy without it; the client's element is left as it came.
          ev.stanza = withoutPrivate(ev.stanza);
          privateMessages.add(ev.stanza);
          return;
        }
        if (!isCarbonEligible(ev.stanza)) return;
        const others = (await host.registry.list(ev.from.bare)).filter((r) => r.jid !== ev.from.full && carbonsEnabled(r));
        for (const target of others) await host.deliver(target, carbonCopy("sent", ev.stanza, ev.from.bare, target.jid));
      },
      AFTER_FILTERS,
    );

    const received = async (ev: StanzaEvent): Promise<void> => {
      if (privateMessages.has(ev.stanza) || isPrivate(ev.stanza) || !isCarbonEligible(ev.stanza)) return;
      // A message between two resources of one account is already covered by <sent/> copies.
      if (ev.from.bare === ev.to.bare) return;
      const resources = await host.registry.list(ev.to.bare);
      const direct = directRecipients(resources, ev);
      for (const target of resources) {
        if (!carbonsEnabled(target) || direct.has(target.jid)) continue;
        await host.deliver(target, carbonCopy("received", ev.stanza, ev.to.bare, target.jid));
      }
    };
    ctx.on("message/full", received, BEFORE_DELIVERY);
    ctx.on("message/bare", received, BEFORE_DELIVERY);
  },
});

/** A copy of the message without XEP-0280's <private/> (the XEP-0334 <no-copy/> hint stays). */
function withoutPrivate(stanza: Element): Element {
  const copy = new Element(stanza.name, { ...stanza.attrs });
  for (const child of stanza.children) {
    if (typeof child !== "string" && child.name === "private" && child.attrs.xmlns === NS_CARBONS) continue;
    copy.children.push(child);
  }
  return copy;
}

/**
 * The resources that get the original (RFC 6121 §8.5.3.1 for a bound full JID, otherwise the
 * bare-JID rules of §8.5.2 shared with the message module); they must not also get a copy.
 */
function directRecipients(resources: SessionInfo[], ev: StanzaEvent): Set<string> {
  if (ev.to.resource) {
    const bound = resources.find((r) => r.jid === ev.to.full);
    if (bound) return new Set([bound.jid]);
  }
  return new Set(bareRecipients(resources, messageType(ev.stanza)).map((r) => r.jid));
}

/** §4: enable/disable for the requesting resource only; nobody toggles another account. */
function toggle(host: Host, enabled: boolean): IqHandler {
  return async (ev) => {
    if (!ev.origin || ev.from.bare !== ev.to.bare) throw new StanzaError("forbidden", "carbons can only be toggled for your own account");
    const info = await host.registry.get(ev.from.full);
    if (!info) throw new StanzaError("unexpected-request", "resource is not bound");
    await host.registry.update(info.jid, info.sessionId, { ext: { ...info.ext, carbons: enabled } });
  };
}
