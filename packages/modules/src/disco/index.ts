/**
 * XEP-0030 Service Discovery: disco#info and disco#items for the server domain (§3.1, §4.1)
 * and for local accounts (bare JIDs, §3.1 "entity" queries answered by the server on the
 * account's behalf, as RFC 6121 §8.5.2 lets the server handle IQs to a bare JID).
 *
 * Privacy (XEP-0030 §8, RFC 6121 §8.5.2.1.x): an account's features reveal that it exists and
 * what its server offers. Like ejabberd and Prosody we answer only the account itself and
 * contacts it shares presence with (subscription 'from' or 'both'); everyone else gets
 * <service-unavailable/>, the same answer a non-existent account gets, so the reply does not
 * leak whether the account exists. (ejabberd uses subscription-required in some versions; we
 * prefer the answer that is indistinguishable from "no such user".)
 *
 * The server's info also carries the operator's contact addresses (XEP-0157, contact.ts).
 */
import { type Element, type Jid, NS_DISCO_INFO, NS_DISCO_ITEMS, StanzaError, x } from "@switchboard/xml";
import { defineModule, type DiscoIdentity, type Host } from "@switchboard/core";
import { contactForm, validateContact, type ContactAddresses } from "./contact.js";
import { listDiscoItems } from "./items.js";
import { accountIdentities, accountItems } from "./account.js";

export { addDiscoItem, listDiscoItems, type DiscoItem } from "./items.js";
export { addAccountIdentity, addAccountItems, type AccountItemsProvider } from "./account.js";
export { CONTACT_FIELDS, type ContactAddresses, type ContactField } from "./contact.js";

export interface DiscoOptions {
  /** XEP-0157 addresses by kind ('abuse', 'admin', …), each a list of URIs; none by default */
  contact: ContactAddresses;
}

/** The identity XEP-0030 registry gives a registered account (category 'account', type 'registered'). */
const ACCOUNT_IDENTITY: DiscoIdentity = { category: "account", type: "registered" };

export const discoModule = defineModule<DiscoOptions>({
  name: "disco",
  spec: "XEP-0030, XEP-0157",
  defaults: { contact: {} },
  validate(o) {
    validateContact(o.contact);
  },
  setup(ctx) {
    const { host } = ctx;
    const serverInfo = contactForm(ctx.options.contact);
    ctx.hostFeature(NS_DISCO_INFO);
    ctx.hostFeature(NS_DISCO_ITEMS);
    ctx.accountFeature(NS_DISCO_INFO);
    ctx.accountFeature(NS_DISCO_ITEMS);

    ctx.iq({ type: "get", xmlns: NS_DISCO_INFO, name: "query", targets: ["host", "bare"] }, async (ev, query) => {
      if (ev.to.local === "") {
        rejectUnknownNode(query);
        const features = new Set([...host.disco.hostFeatures, NS_DISCO_INFO, NS_DISCO_ITEMS]);
        return infoResult(query, host.disco.identities, features, serverInfo);
      }
      await assertMayDiscover(host, ev.from, ev.to);
      rejectUnknownNode(query);
      const features = new Set([...host.disco.accountFeatures, NS_DISCO_INFO, NS_DISCO_ITEMS]);
      return infoResult(query, [ACCOUNT_IDENTITY, ...accountIdentities(host)], features);
    });

    ctx.iq({ type: "get", xmlns: NS_DISCO_ITEMS, name: "query", targets: ["host", "bare"] }, async (ev, query) => {
      if (ev.to.local === "") {
        rejectUnknownNode(query);
        const items = listDiscoItems(host).map((i) => x("item", { jid: i.jid, name: i.name, node: i.node }));
        return x("query", { xmlns: NS_DISCO_ITEMS }, items);
      }
      await assertMayDiscover(host, ev.from, ev.to);
      rejectUnknownNode(query);
      // XEP-0163 §6.2: the account's PEP nodes (those the requester may see)
      const items = await accountItems(host, ev.to.bare, ev.from.bare);
      return x("query", { xmlns: NS_DISCO_ITEMS }, items.map((i) => x("item", { jid: i.jid, name: i.name, node: i.node })));
    });
  },
});

/** We publish no nodes yet, so any node is unknown (XEP-0030 §3.2: item-not-found). */
function rejectUnknownNode(query: Element): void {
  const node = query.attrs.node;
  if (node !== undefined && node !== "") throw new StanzaError("item-not-found", `unknown node '${node}'`);
}

/**
 * The account itself, or a contact the account shares presence with (the account's roster
 * entry for the requester has subscription 'from' or 'both', RFC 6121 §3.1.1 terms).
 */
async function assertMayDiscover(host: Host, requester: Jid, account: Jid): Promise<void> {
  if (requester.bare === account.bare) return;
  const item = await host.store.roster.get(account.bare, requester.bare);
  if (item && (item.subscription === "from" || item.subscription === "both")) return;
  throw new StanzaError("service-unavailable");
}

function infoResult(query: Element, identities: readonly DiscoIdentity[], features: Set<string>, form?: Element): Element {
  // XEP-0115 §5.1 hashes sort identities and features; sorting here keeps answers stable too.
  const unique = new Map(identities.map((i) => [`${i.category}/${i.type}/${i.name ?? ""}`, i]));
  const sortedIdentities = [...unique.values()].sort(
    (a, b) => a.category.localeCompare(b.category) || a.type.localeCompare(b.type) || (a.name ?? "").localeCompare(b.name ?? ""),
  );
  return x(
    "query",
    { xmlns: NS_DISCO_INFO, node: query.attrs.node || undefined },
    sortedIdentities.map((i) => x("identity", { category: i.category, type: i.type, name: i.name })),
    [...features].sort().map((f) => x("feature", { var: f })),
    // XEP-0128 §3: extended information follows the features
    form,
  );
}
