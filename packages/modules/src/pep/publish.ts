/**
 * Publishing and retracting (XEP-0060 §7.1, §7.2) on the owner's PEP service (XEP-0163 §3):
 * auto-create (§7.1.4), publish-options with their preconditions (§7.1.5, XEP-0223), the item
 * and payload checks of §7.1.3.6, and the notifications that follow (notify.ts).
 */
import { x, type Element } from "@switchboard/xml";
import type { Host, StanzaEvent } from "@switchboard/core";
import { applyFields, defaultConfig, meetsOptions, readForm } from "./form.js";
import { assertOwner, createNode, existingNode, keptItems, newItemId, nodeName } from "./node.js";
import { NS_DATA, NS_PUBLISH_OPTIONS, NS_PUBSUB, pubsubError } from "./ns.js";
import { broadcastEvent, parseOwn } from "./notify.js";
import type { PepOptions } from "./options.js";

export async function publish(host: Host, options: PepOptions, ev: StanzaEvent, pubsub: Element, request: Element): Promise<Element> {
  assertOwner(ev);
  const owner = ev.from.bare;
  const node = nodeName(request, options);
  const items = request.getChildren("item");
  if (items.length === 0) throw pubsubError("bad-request", "item-required", "a publish carries an item");
  if (items.length > 1) throw pubsubError("bad-request", "invalid-payload", "one item per publish");
  const item = items[0]!;
  const payloads = item.getChildElements();
  // PEP nodes persist items (or keep the last one), so an item carries exactly one payload
  if (payloads.length === 0) throw pubsubError("bad-request", "payload-required", "the item needs a payload");
  if (payloads.length > 1) throw pubsubError("bad-request", "invalid-payload", "one payload element per item");
  const payload = payloads[0]!;
  if (!payload.attrs.xmlns) throw pubsubError("bad-request", "invalid-payload", "the payload needs a namespace of its own");
  const xml = payload.toString();
  const bytes = Buffer.byteLength(xml, "utf8");
  if (bytes > options.maxItemBytes) throw pubsubError("not-acceptable", "payload-too-big", `items are at most ${options.maxItemBytes} bytes`);

  const form = pubsub.getChild("publish-options")?.getChild("x", NS_DATA);
  const wanted = form ? readForm(form, NS_PUBLISH_OPTIONS) : undefined;
  let config = await host.store.pep.node(owner, node);
  if (!config) {
    const fresh = wanted ? applyFields(defaultConfig(), wanted, options.maxItemsPerNode, "options") : defaultConfig();
    if ((await createNode(host, owner, node, fresh, options)) === "created") config = fresh;
    else config = await existingNode(host, owner, node); // created meanwhile by another resource
  }
  if (wanted && !meetsOptions(config, wanted, options.maxItemsPerNode)) {
    throw pubsubError("conflict", "precondition-not-met", "the node's configuration is not what publish-options ask for");
  }
  const id = item.attrs.id || newItemId();
  await host.store.pep.publish(owner, node, { id, xml, publisher: owner, at: Date.now() }, keptItems(config, options));
  // the stored text, not the client's element: the request stanza is never changed (events.ts)
  await broadcastEvent(host, owner, node, config, x("items", { node }, x("item", { id }, parseOwn(xml))));
  return x("pubsub", { xmlns: NS_PUBSUB }, x("publish", { node }, x("item", { id })));
}

/** §7.2: removes one item; subscribers hear of it when the node says so or the request asks (§7.2.2.1). */
export async function retract(host: Host, options: PepOptions, ev: StanzaEvent, request: Element): Promise<void> {
  assertOwner(ev);
  const owner = ev.from.bare;
  const node = nodeName(request, options);
  const ids = request.getChildren("item").map((i) => i.attrs.id);
  if (ids.length !== 1 || !ids[0]) throw pubsubError("bad-request", "item-required", "a retract names one item id");
  const config = await existingNode(host, owner, node);
  if (!(await host.store.pep.retract(owner, node, ids[0]))) throw pubsubError("item-not-found", undefined, `no item '${ids[0]}' in '${node}'`);
  const asked = request.attrs.notify === "true" || request.attrs.notify === "1";
  if (config.notifyRetract || asked) await broadcastEvent(host, owner, node, config, x("items", { node }, x("retract", { id: ids[0] })));
}
