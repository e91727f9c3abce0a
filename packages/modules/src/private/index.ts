/**
 * XEP-0049 Private XML Storage: an account keeps XML fragments on its server, one per
 * namespace (§3: a get names the namespace by sending an element qualified by it). Still how
 * many clients keep legacy bookmarks (XEP-0048 'storage:bookmarks').
 *
 * - Only the account itself, with no 'to' or its own bare JID; anyone else gets <forbidden/>
 *   (§3: "Forbidden or Service Unavailable ... the former is preferable"). A query to a full JID
 *   is that client's business and is delivered by the router.
 * - A get names one namespace (§3: a client "MUST NOT query for more than one namespace in a
 *   single IQ get"; more is <bad-request/>). Nothing stored → the requested element comes back
 *   as it was sent, usually empty (§3 example).
 * - A set stores every namespace it carries, all or nothing (payload.ts for the per-element
 *   rules and the size limit). Past `maxNamespaces` distinct namespaces a new one is refused
 *   with <policy-violation/>: a quota of the service, which waiting does not lift (XEP-0049
 *   has no delete), so not the 'wait' type of resource-constraint.
 */
import { type Element, StanzaError, x } from "@switchboard/xml";
import { defineModule, option, type OptionsOf, type Logger, type StanzaEvent } from "@switchboard/core";
import { NS_PRIVATE, groupByNamespace, parsePayload, serializePayload } from "./payload.js";

export { NS_PRIVATE } from "./payload.js";

declare module "@switchboard/core" {
  interface CoreEvents {
    /** an account stored private XML under these namespaces (XEP-0411 mirrors bookmarks from it) */
    "private/stored": { owner: string; namespaces: string[] };
  }
}

/** Operator options: `modules.private.<option>`. */
export const PRIVATE_OPTIONS = {
  maxBytes: option.integer(1, 16 * 1024 * 1024, 64 * 1024, "Largest serialized payload of one namespace in private XML storage (XEP-0049); bigger gets <not-acceptable/>."),
  maxNamespaces: option.integer(1, 100_000, 100, "Most distinct namespaces one account may keep in private XML storage."),
};
export type PrivateOptions = OptionsOf<typeof PRIVATE_OPTIONS>;

export const privateModule = defineModule({
  name: "private",
  spec: "XEP-0049",
  options: PRIVATE_OPTIONS,
  setup(ctx) {
    const { host, options, log } = ctx;
    ctx.hostFeature(NS_PRIVATE);
    ctx.accountFeature(NS_PRIVATE);

    ctx.iq({ type: "get", xmlns: NS_PRIVATE, name: "query", targets: ["bare"] }, async (ev, query) => {
      assertOwnStorage(ev);
      const groups = groupByNamespace(query);
      if (groups.size > 1) throw new StanzaError("bad-request", "ask for one namespace per request");
      const [[namespace, requested]] = [...groups];
      const stored = await host.store.privateXml.get(ev.from.bare, namespace);
      const elements = stored === undefined ? requested : (readStored(stored, options.maxBytes, log) ?? requested);
      return x("query", { xmlns: NS_PRIVATE }, elements);
    });

    ctx.iq({ type: "set", xmlns: NS_PRIVATE, name: "query", targets: ["bare"] }, async (ev, query) => {
      assertOwnStorage(ev);
      const payloads = [...groupByNamespace(query)].map(([namespace, elements]) => ({
        namespace,
        xml: serializePayload(elements, options.maxBytes),
      }));
      if (!(await host.store.privateXml.set(ev.from.bare, payloads, options.maxNamespaces))) {
        log.info({ jid: ev.from.bare, limit: options.maxNamespaces }, "private XML refused: namespace limit reached");
        throw new StanzaError("policy-violation", `no more than ${options.maxNamespaces} namespaces of private XML per account`);
      }
      await host.hooks.fire("private/stored", { owner: ev.from.bare, namespaces: payloads.map((p) => p.namespace) });
    });
  },
});

/** §3, §5: only the account's own resources may read or write its private XML. */
function assertOwnStorage(ev: StanzaEvent): void {
  if (ev.to.bare !== ev.from.bare) throw new StanzaError("forbidden", "private XML belongs to its account only");
}

function readStored(xml: string, maxBytes: number, log: Logger): Element[] | undefined {
  try {
    return parsePayload(xml, maxBytes);
  } catch (err) {
    // A corrupt row must not break every read of this namespace; answer as if nothing was stored.
    log.warn({ err }, "stored private XML does not parse, answering as if empty");
    return undefined;
  }
}
