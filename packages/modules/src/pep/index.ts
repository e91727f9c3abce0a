/**
 * XEP-0163 Personal Eventing Protocol: every account is a pubsub service (XEP-0060) with the
 * personal-eventing subset — publish with auto-create and publish-options (publish.ts), item
 * retrieval (items.ts), retraction, the owner's create/configure/delete (config.ts), and
 * notifications to the owner's and its contacts' resources filtered by their verified entity
 * capabilities (notify.ts, ../caps). Enough for OMEMO device lists and bundles, avatars
 * (XEP-0084), bookmarks (XEP-0402), nicknames (XEP-0172) and private storage (XEP-0223).
 *
 * What PEP leaves out here, answered with <feature-not-implemented/> and the
 * `<unsupported feature=…/>` of XEP-0060 §6.1.3.x: explicit subscriptions (subscriptions follow
 * presence, XEP-0163 §4.3), affiliations, purge.
 */
import type { Element } from "@switchboard/xml";
import { defineModule, type Host, type StanzaEvent } from "@switchboard/core";
import { addAccountIdentity, addAccountItems } from "../disco/account.js";
import { assertMayRetrieve } from "./access.js";
import { configureGet, configureSet, create, defaultGet, deleteNode } from "./config.js";
import { retrieveItems } from "./items.js";
import { NS_PUBSUB, NS_PUBSUB_OWNER, pubsubError } from "./ns.js";
import { sendLastItems, sendLastItemsTo } from "./notify.js";
import { PEP_OPTIONS, type PepOptions } from "./options.js";
import { publish, retract } from "./publish.js";

export { NS_PUBSUB, NS_PUBSUB_EVENT, NS_PUBSUB_OWNER, NS_PUBLISH_OPTIONS } from "./ns.js";
export { PEP_OPTIONS, type PepOptions } from "./options.js";

declare module "@switchboard/core" {
  interface CoreEvents {
    /** the owner published to, retracted from or deleted one of its nodes by a request (XEP-0411 mirrors bookmarks) */
    "pep/changed": { owner: string; node: string };
  }
}

const limitsByHost = new WeakMap<Host, PepOptions>();

/** The PEP limits a host runs with, for modules that write PEP nodes themselves; undefined without PEP. */
export function pepLimits(host: Host): PepOptions | undefined {
  return limitsByHost.get(host);
}

/** XEP-0060 §10 features this service has (XEP-0163 §6.1 lists them on the account). */
const FEATURES = [
  "access-open",
  "access-presence",
  "access-whitelist",
  "auto-create",
  "config-node",
  "create-and-configure",
  "create-nodes",
  "delete-items",
  "delete-nodes",
  "filtered-notifications",
  "item-ids",
  "last-published",
  "persistent-items",
  "presence-notifications",
  "publish",
  "publish-options",
  "retract-items",
  "retrieve-default",
  "retrieve-items",
].map((f) => `${NS_PUBSUB}#${f}`);

const child = (el: Element, name: string) => el.getChild(name);

export const pepModule = defineModule({
  name: "pep",
  spec: "XEP-0163, XEP-0060, XEP-0223",
  options: PEP_OPTIONS,
  setup(ctx) {
    const { host, options } = ctx;
    limitsByHost.set(host, options);
    ctx.onUnload(() => limitsByHost.delete(host));
    const changed = (ev: StanzaEvent, request: Element) => host.hooks.fire("pep/changed", { owner: ev.from.bare, node: request.attrs.node! });
    ctx.accountFeature(NS_PUBSUB);
    for (const f of FEATURES) ctx.accountFeature(f);
    ctx.onUnload(addAccountIdentity(host, { category: "pubsub", type: "pep" }));
    ctx.onUnload(
      addAccountItems(host, async (account, requester) => {
        const visible = [];
        for (const { node, config } of await host.store.pep.nodes(account)) {
          const allowed = await assertMayRetrieve(host, account, requester, config).then(() => true, () => false);
          if (allowed) visible.push({ jid: account, node, name: config.title });
        }
        return visible;
      }),
    );

    ctx.iq({ type: "set", xmlns: NS_PUBSUB, name: "pubsub", targets: ["bare"] }, async (ev, pubsub) => {
      const request = pubsub.getChildElements()[0];
      switch (request?.name) {
        case "publish": {
          const result = await publish(host, options, ev, pubsub, request);
          await changed(ev, request);
          return result;
        }
        case "retract":
          await retract(host, options, ev, request);
          await changed(ev, request);
          return;
        case "create":
          await create(host, options, ev, request, child(pubsub, "configure"));
          return;
        default:
          unsupported(request);
      }
    });

    ctx.iq({ type: "get", xmlns: NS_PUBSUB, name: "pubsub", targets: ["bare"] }, async (ev, pubsub) => {
      const request = pubsub.getChildElements()[0];
      if (request?.name === "items") return retrieveItems(host, options, ev, request);
      unsupported(request);
    });

    ctx.iq({ type: "get", xmlns: NS_PUBSUB_OWNER, name: "pubsub", targets: ["bare"] }, async (ev, pubsub) => {
      const request = pubsub.getChildElements()[0];
      if (request?.name === "configure") return configureGet(host, options, ev, request);
      if (request?.name === "default") return defaultGet(options, ev);
      unsupported(request);
    });

    ctx.iq({ type: "set", xmlns: NS_PUBSUB_OWNER, name: "pubsub", targets: ["bare"] }, async (ev: StanzaEvent, pubsub) => {
      const request = pubsub.getChildElements()[0];
      if (request?.name === "configure") return configureSet(host, options, ev, request);
      if (request?.name === "delete") {
        await deleteNode(host, options, ev, request);
        await changed(ev, request);
        return;
      }
      unsupported(request);
    });

    // XEP-0163 §4.3.2: the last item of each wanted node, once a session's caps are known
    ctx.on("caps/known", async ({ session, features }) => {
      await sendLastItems(host, session, features);
    });

    // ... and to a contact the owner has just let see its presence: the 'subscribed' an owner
    // sends is routed after the owner's roster changed (presence/outbound.ts), so the access
    // check reads the new state; sent once the presence module has delivered the approval.
    ctx.on(
      "presence/bare",
      (ev) => {
        if (ev.stanza.attrs.type !== "subscribed" || !host.isLocalDomain(ev.from.domain) || ev.from.bare === ev.to.bare) return;
        const [owner, contact] = [ev.from.bare, ev.to.bare];
        setImmediate(() => void sendLastItemsTo(host, owner, contact).catch((err: unknown) => ctx.log.warn({ err, owner, contact }, "last PEP items not sent to a new subscriber")));
      },
      { band: "observe" },
    );
  },
});

/** XEP-0060 §6.1.3.x and friends: a use case this PEP service does not offer, or no request at all. */
function unsupported(request: Element | undefined): never {
  if (!request) throw pubsubError("bad-request", undefined, "the pubsub element carries no request");
  const feature = { subscribe: "subscribe", unsubscribe: "subscribe", subscriptions: "retrieve-subscriptions", affiliations: "retrieve-affiliations", options: "subscription-options", purge: "purge-nodes" }[request.name];
  throw pubsubError("feature-not-implemented", "unsupported", `'${request.name}' is not offered by this PEP service`, feature ?? request.name);
}


