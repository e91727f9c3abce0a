/** What every PEP request checks first: the owner, the node name, the limits. */
import { randomBytes } from "node:crypto";
import { StanzaError, type Element } from "@switchboard/xml";
import type { Host, PepNodeConfig, StanzaEvent } from "@switchboard/core";
import { applyFields, defaultConfig, readForm } from "./form.js";
import { NS_DATA, NS_NODE_CONFIG, pubsubError } from "./ns.js";
import type { PepOptions } from "./options.js";

/** XEP-0163 §3: only the account owns (and writes to) its PEP service. */
export function assertOwner(ev: StanzaEvent): void {
  if (ev.to.bare !== ev.from.bare) throw new StanzaError("forbidden", "only the account itself may change its PEP nodes");
}

/** The node attribute of a request: required (§7.1.3.3 nodeid-required), and within maxNodeNameLength. */
export function nodeName(el: Element, options: PepOptions): string {
  const node = el.attrs.node;
  if (!node) throw pubsubError("bad-request", "nodeid-required", "a PEP request names its node");
  if ([...node].length > options.maxNodeNameLength) {
    throw new StanzaError("policy-violation", `node names are at most ${options.maxNodeNameLength} characters`);
  }
  return node;
}

/** How many items the store keeps for a node: its max_items, one when items are not persisted (for §4.3.2). */
export function keptItems(config: PepNodeConfig, options: PepOptions): number {
  return config.persistItems ? Math.min(config.maxItems, options.maxItemsPerNode) : 1;
}

export async function existingNode(host: Host, owner: string, node: string): Promise<PepNodeConfig> {
  const config = await host.store.pep.node(owner, node);
  if (!config) throw new StanzaError("item-not-found", `no node '${node}'`);
  return config;
}

/** Creates a node, refusing one past maxNodesPerUser (a quota waiting will not lift: policy-violation). */
export async function createNode(host: Host, owner: string, node: string, config: PepNodeConfig, options: PepOptions): Promise<"created" | "exists"> {
  const made = await host.store.pep.create(owner, node, config, options.maxNodesPerUser);
  if (made === "limit") {
    host.log.info({ jid: owner, limit: options.maxNodesPerUser }, "PEP node refused: node limit reached");
    throw new StanzaError("policy-violation", `no more than ${options.maxNodesPerUser} PEP nodes per account`);
  }
  return made;
}

/** The configuration a `<configure><x/></configure>` element asks for, over `base` (§8.1.3, §8.2.4). */
export function configFrom(configure: Element | undefined, base: PepNodeConfig, options: PepOptions): PepNodeConfig {
  const form = configure?.getChild("x", NS_DATA);
  if (!form) return base;
  const fields = readForm(form, NS_NODE_CONFIG);
  return fields ? applyFields(base, fields, options.maxItemsPerNode, "configure") : base;
}

export { defaultConfig };

/** An item id when the publisher gives none (§7.1.1: the service generates a unique one). */
export function newItemId(): string {
  return randomBytes(9).toString("base64url");
}
