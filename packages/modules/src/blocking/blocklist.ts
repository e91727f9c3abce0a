/**
 * XEP-0191 blocklists: JID matching and an in-memory cache so that enforcing them costs no
 * store round trip per stanza (ARCHITECTURE.md "Avoid a Redis round trip per stanza").
 */
import type { BlockStore } from "@switchboard/core";
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
export class BlocklistCache {
  private readonly loaded = new Map<string, ReadonlySet<string>>();
  private readonly loading = new Map<string, Promise<ReadonlySet<string>>>();
  /** bumped by invalidate so a load started before a change never lands after it */
  private generation = 0;

  constructor(
    private readonly store: BlockStore,
    private readonly maxEntries: number,
  ) {}

  /** The cached list, if loaded; lets the hot path stay synchronous. */
  peek(owner: string): ReadonlySet<string> | undefined {
    const list = this.loaded.get(owner);
    if (list) {
      this.loaded.delete(owner);
      this.loaded.set(owner, list);
    }
    return list;
  }

  async get(owner: string): Promise<ReadonlySet<string>> {
    const cached = this.peek(owner);
    if (cached) return cached;
    let pending = this.loading.get(owner);
    if (!pending) {
      const generation = this.generation;
      pending = this.store.list(owner).then(
        (jids) => {
          const list: ReadonlySet<string> = new Set(jids);
          if (this.loading.get(owner) === pending) this.loading.delete(owner);
          if (generation === this.generation) this.remember(owner, list);
          return list;
        },
        (err: unknown) => {
          if (this.loading.get(owner) === pending) this.loading.delete(owner);
          throw err;
        },
      );
      this.loading.set(owner, pending);
    }
    return pending;
  }

  /** Drops every cached list (the bus reconnected: change notices may have been missed). */
  clear(): void {
    this.generation++;
    this.loaded.clear();
    this.loading.clear();
  }

  invalidate(owner: string): void {
    this.generation++;
    this.loaded.delete(owner);
    this.loading.delete(owner);
  }

  get size(): number {
    return this.loaded.size;
  }

  private remember(owner: string, list: ReadonlySet<string>): void {
    this.loaded.set(owner, list);
    if (this.loaded.size > this.maxEntries) {
      const oldest = this.loaded.keys().next().value;
      if (oldest !== undefined) this.loaded.delete(oldest);
    }
  }
}

