/**
 * XEP-0030 §4: items the server domain lists in disco#items. Components (MUC, upload…) loaded
 * later register themselves here; the registry is per Host so two hosts in one process (tests,
 * multi-domain later) never see each other's items.
 */
import type { Host } from "@switchboard/core";

export interface DiscoItem {
  jid: string;
  name?: string;
  node?: string;
}

const itemsByHost = new WeakMap<Host, Map<string, DiscoItem>>();

function itemKey(item: DiscoItem): string {
  return `${item.jid}\u0000${item.node ?? ""}`;
}

/** Adds an item to the host's disco#items; returns a function that removes it again. */
export function addDiscoItem(host: Host, item: DiscoItem): () => void {
  let items = itemsByHost.get(host);
  if (!items) itemsByHost.set(host, (items = new Map()));
  const key = itemKey(item);
  const stored = { ...item };
  items.set(key, stored);
  return () => {
    if (items.get(key) === stored) items.delete(key);
  };
}

/** The host's items, ordered by JID then node so answers are stable. */
export function listDiscoItems(host: Host): DiscoItem[] {
  const items = [...(itemsByHost.get(host)?.values() ?? [])];
  return items.sort((a, b) => a.jid.localeCompare(b.jid) || (a.node ?? "").localeCompare(b.node ?? ""));
}
