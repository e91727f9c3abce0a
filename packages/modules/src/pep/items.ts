/**
 * Retrieving items (XEP-0060 §6.5): all of them, the newest `max_items` (§6.5.7), or by id
 * (§6.5.8), by the owner or anyone the access model lets in (access.ts). Items come oldest
 * first, the order they were published in.
 */
import { StanzaError, x, type Element } from "@switchboard/xml";
import type { Host, StanzaEvent } from "@switchboard/core";
import { assertMayRetrieve } from "./access.js";
import { existingNode, nodeName } from "./node.js";
import { NS_PUBSUB } from "./ns.js";
import { itemElement } from "./notify.js";
import type { PepOptions } from "./options.js";

export async function retrieveItems(host: Host, options: PepOptions, ev: StanzaEvent, request: Element): Promise<Element> {
  const owner = ev.to.bare;
  const node = nodeName(request, options);
  const config = await existingNode(host, owner, node);
  await assertMayRetrieve(host, owner, ev.from.bare, config);
  const ids = request.getChildren("item").map((i) => i.attrs.id);
  if (ids.some((id) => !id)) throw new StanzaError("bad-request", "an item asked for by id needs its id");
  let items;
  if (ids.length > 0) items = await host.store.pep.itemsById(owner, node, ids as string[]);
  else {
    const max = request.attrs.max_items;
    if (max !== undefined && !/^[1-9]\d*$/.test(max)) throw new StanzaError("bad-request", "max_items must be a positive whole number");
    items = await host.store.pep.items(owner, node, max === undefined ? undefined : Number(max));
  }
  return x("pubsub", { xmlns: NS_PUBSUB }, x("items", { node }, items.reverse().map(itemElement)));
}
