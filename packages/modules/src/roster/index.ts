/**
 * Roster management, RFC 6121 §2: roster get (§2.2) with versioning (§2.6), roster set to add or
 * update an item (§2.3, §2.4), removal with subscription cancellation (§2.5), and roster pushes
 * to interested resources (§2.1.6). Subscription state itself changes only through presence
 * (§3, the presence module); a client can never set it here.
 */
import { Element, StanzaError, x } from "@switchboard/xml";
import { defineModule, option, type OptionsOf, markInterested, type Host, type StanzaEvent } from "@switchboard/core";
import { NS_ROSTER, NS_ROSTER_VER, newRosterItem, parseRosterSet, rosterItemElement } from "./items.js";
import { pushRosterItem } from "./push.js";

export { pushRosterItem, saveRosterItem } from "./push.js";
export { NS_ROSTER, NS_ROSTER_VER, rosterItemElement, type PushedItem } from "./items.js";

/** Operator options: `modules.roster.<option>`. */
export const ROSTER_OPTIONS = {
  maxTextLength: option.integer(1, 65_536, 1024, "Longest roster item or group name, in characters (<not-acceptable/> beyond)."),
  maxGroups: option.integer(1, 10_000, 64, "Most groups per roster item."),
  maxItems: option.integer(1, 1_000_000, 2000, "Most visible items per roster (<not-allowed/> beyond, RFC 6121 §2.3.3)."),
};
export type RosterOptions = OptionsOf<typeof ROSTER_OPTIONS>;

export const rosterModule = defineModule({
  name: "roster",
  spec: "RFC 6121 §2",
  options: ROSTER_OPTIONS,
  setup(ctx) {
    const { host, options } = ctx;
    ctx.streamFeature("postAuth", () => x("ver", { xmlns: NS_ROSTER_VER }));
    ctx.iq({ type: "get", xmlns: NS_ROSTER, name: "query", targets: ["bare"] }, (ev, query) => rosterGet(host, ev, query));
    ctx.iq({ type: "set", xmlns: NS_ROSTER, name: "query", targets: ["bare"] }, (ev, query) => rosterSet(host, options, ev, query));
  },
});

/** §2.1.3: only the user's own server answers for the user's roster. */
function requireOwnRoster(ev: StanzaEvent): string {
  if (ev.to.bare !== ev.from.bare) throw new StanzaError("forbidden", "a roster belongs to its own account only");
  return ev.from.bare;
}

async function rosterGet(host: Host, ev: StanzaEvent, query: Element): Promise<Element | void> {
  const owner = requireOwnRoster(ev);
  // §2.1.6: a resource that asked for the roster receives pushes from now on.
  markInterested(ev.origin, "roster");
  const version = String(await host.store.roster.version(owner));
  const clientVer = query.attrs.ver;
  // §2.6.3: the client's cached roster is current; changes will come as pushes.
  if (clientVer !== undefined && clientVer === version) return;
  const items = (await host.store.roster.list(owner)).filter((i) => i.inRoster);
  return x("query", { xmlns: NS_ROSTER, ver: clientVer === undefined ? undefined : version }, items.map(rosterItemElement));
}

async function rosterSet(host: Host, options: RosterOptions, ev: StanzaEvent, query: Element): Promise<void> {
  const owner = requireOwnRoster(ev);
  const request = parseRosterSet(query, options);
  const existing = await host.store.roster.get(owner, request.jid);

  if (request.action === "remove") {
    // §2.5.3: removing an item that is not there.
    if (!existing || !existing.inRoster) throw new StanzaError("item-not-found", `${request.jid} is not in the roster`);
    const version = await host.store.roster.remove(owner, request.jid);
    await pushRosterItem(host, owner, { jid: request.jid, subscription: "remove" }, version);
    // §2.5.2: removing the item cancels the subscriptions both ways. COMPAT: like Prosody, a
    // pending request either way is cancelled as well, so the contact is not left waiting.
    const cancel = (type: "unsubscribe" | "unsubscribed") =>
      host.router.route(x("presence", { type, from: owner, to: request.jid }));
    if (existing.subscription === "to" || existing.subscription === "both" || existing.askOut) await cancel("unsubscribe");
    if (existing.subscription === "from" || existing.subscription === "both" || existing.askIn) await cancel("unsubscribed");
    return;
  }

  if (!existing?.inRoster) {
    const visible = (await host.store.roster.list(owner)).filter((i) => i.inRoster).length;
    if (visible >= options.maxItems) throw new StanzaError("not-allowed", `a roster holds at most ${options.maxItems} items`);
  }
  // §2.4: an update keeps the subscription state; a hidden state entry becomes visible.
  const item = { ...(existing ?? newRosterItem(request.jid)), name: request.name, groups: request.groups, inRoster: true };
  const version = await host.store.roster.put(owner, item);
  await pushRosterItem(host, owner, item, version);
}
