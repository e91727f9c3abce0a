/**
 * XEP-0191 blocklists: JID matching and an in-memory cache so that enforcing them costs no
 * store round trip per stanza (ARCHITECTURE.md "Avoid a Redis round trip per stanza").
 */
import { InvalidatedCache, type BlockStore } from "@switchboard/core";
import { type Element, type Jid, StanzaError, tryParseJid, bareOf } from "@switchboard/xml";

/**
 * XEP-0191 §3.2 defers to XEP-0016 §2.1 for matching: an item matches a JID when it equals the
 * full JID, the bare JID, the domain/resource pair or the domain. So a full-JID item blocks one
 * resource only, a domain item blocks every JID at that domain.
 */
export function blocklistMatches(list: ReadonlySet<string>, jid: Jid): boolean {
  if (list.size === 0) return false;
  if (list.has(jid.full) || list.has(jid.bare) || list.has(jid.domain)) return true;
  return jid.resource !== "" && list.has(`${jid.domain}/${jid.resource}`);
}


/**
 * Parses the <item jid='…'/> children of <block/> or <unblock/> into normalised JID strings
 * (duplicates removed). §3.3: a JID that does not parse → <jid-malformed/>.
 */
export function parseItems(payload: Element): string[] {
  const out = new Set<string>();
  for (const item of payload.getChildren("item")) {
    const raw = item.attrs.jid;
    const jid = raw === undefined ? undefined : tryParseJid(raw);
    if (!jid) throw new StanzaError("jid-malformed", `not a valid JID: '${raw ?? ""}'`);
    out.add(jid.full);
  }
  return [...out];
}

/**
 * Blocklists by owner bare JID, loaded on first use and dropped when the owner changes them.
 * Bounded (least recently used entries leave first) so users who merely receive a stanza once
 * do not accumulate forever.
 */
/**
 * Blocklists kept in memory per node (least recently used leave first): the core's
 * bus-invalidated cache, loading from the store. A change made anywhere is announced over the
 * bus and drops the entry on every node (index.ts).
 */
export class BlocklistCache extends InvalidatedCache<ReadonlySet<string>> {
  constructor(store: BlockStore, maxEntries: number) {
    super({ load: async (owner) => new Set(await store.list(owner)), maxEntries });
  }
}

