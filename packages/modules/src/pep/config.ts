/**
 * The owner's use cases (XEP-0060 §8): create with a configuration (§8.1), get and submit the
 * configure form (§8.2), the default configuration (§8.3), delete with a `<delete/>`
 * notification (§8.4, sent to those who could see the node before it went).
 */
import { x, type Element } from "@switchboard/xml";
import type { Host, StanzaEvent } from "@switchboard/core";
import { configForm } from "./form.js";
import { assertOwner, configFrom, createNode, defaultConfig, existingNode, nodeName } from "./node.js";
import { NS_DATA, NS_PUBSUB_OWNER, pubsubError } from "./ns.js";
import { audience, eventMessage } from "./notify.js";
import type { PepOptions } from "./options.js";

/** §8.1.2/§8.1.3: `<create node/>`, optionally with `<configure><x/></configure>` beside it. */
export async function create(host: Host, options: PepOptions, ev: StanzaEvent, request: Element, configure: Element | undefined): Promise<void> {
  assertOwner(ev);
  const node = nodeName(request, options);
  const config = configFrom(configure, defaultConfig(), options);
  if ((await createNode(host, ev.from.bare, node, config, options)) === "exists") throw pubsubError("conflict", undefined, `node '${node}' exists`);
}

export async function configureGet(host: Host, options: PepOptions, ev: StanzaEvent, request: Element): Promise<Element> {
  assertOwner(ev);
  const node = nodeName(request, options);
  const config = await existingNode(host, ev.from.bare, node);
  return x("pubsub", { xmlns: NS_PUBSUB_OWNER }, x("configure", { node }, configForm(config, options.maxItemsPerNode)));
}

export function defaultGet(options: PepOptions, ev: StanzaEvent): Element {
  assertOwner(ev);
  return x("pubsub", { xmlns: NS_PUBSUB_OWNER }, x("default", {}, configForm(defaultConfig(), options.maxItemsPerNode)));
}

export async function configureSet(host: Host, options: PepOptions, ev: StanzaEvent, request: Element): Promise<void> {
  assertOwner(ev);
  const owner = ev.from.bare;
  const node = nodeName(request, options);
  const config = await existingNode(host, owner, node);
  if (!request.getChild("x", NS_DATA)) throw pubsubError("bad-request", undefined, "a configure request carries the submitted form (jabber:x:data)");
  const next = configFrom(request, config, options);
  // the store drops the oldest items past the new max_items; a node that stops persisting
  // keeps its last item only from its next publication on (node.ts keptItems)
  if (!(await host.store.pep.configure(owner, node, next))) throw pubsubError("item-not-found", undefined, `no node '${node}'`);
}

export async function deleteNode(host: Host, options: PepOptions, ev: StanzaEvent, request: Element): Promise<void> {
  assertOwner(ev);
  const owner = ev.from.bare;
  const node = nodeName(request, options);
  const config = await existingNode(host, owner, node);
  const told = await audience(host, owner, node, config);
  if (!(await host.store.pep.delete(owner, node))) throw pubsubError("item-not-found", undefined, `no node '${node}'`);
  for (const target of told) await host.deliver(target, eventMessage(owner, target.jid, x("delete", { node })));
}
