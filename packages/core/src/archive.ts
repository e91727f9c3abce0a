/**
 * The message archive port (XEP-0313): what the MAM module needs from storage, and an in-memory
 * adapter for tests. The embedded adapter (a SQLite file owned by a worker thread) lives in
 * store-sqlite, the cluster one (PostgreSQL) in store-postgres.
 *
 * Appends are fire-and-forget: the delivery path never waits on the archive (the adapter batches
 * and writes them later); queries and preference changes are awaited.
 *
 * Order is `seq`: a number the archiving node makes from the clock (milliseconds × 1000 plus a
 * counter), so it is also the archive's timestamp (`seq / 1000` ms) and `start`/`end` become a
 * range on the same index.
 */

export interface ArchivedMessage {
  /** the archive's owner (a bare JID) */
  owner: string;
  /** the XEP-0359 stanza-id: opaque, unique in this owner's archive */
  id: string;
  /** ordering key and timestamp (ms × 1000 + counter) */
  seq: number;
  /** the other party's bare JID */
  withBare: string;
  /** the other party's full JID (or bare when it had no resource) */
  withFull: string;
  /** the message as archived (serialized) */
  xml: string;
}

export interface ArchiveQuery {
  owner: string;
  /** match the other party: a bare JID matches every resource, a full JID only itself (XEP-0313 §4.1.1) */
  with?: { bare: string; full?: string };
  /** inclusive bounds on seq (from `start`/`end`) */
  minSeq?: number;
  maxSeq?: number;
  /** RSM (XEP-0059): items after / before this id, exclusive */
  afterId?: string;
  beforeId?: string;
  /** only these ids (urn:xmpp:mam:2#extended `ids`) */
  ids?: string[];
  /** page size (already clamped by the caller); 0 asks for the count only */
  max: number;
  /** the page nearest the end (`<before/>`, `before-id`): the last `max` items, still returned oldest first */
  fromEnd: boolean;
}

export interface ArchivePage {
  /** oldest first */
  items: ArchivedMessage[];
  /** no item matched by the query lies beyond this page in the paging direction */
  complete: boolean;
  /** how many items match the filter (with, start, end, ids), paging aside */
  count: number;
}

/** XEP-0313 §7 archiving preferences. */
export interface ArchivePrefs {
  default: "always" | "never" | "roster";
  always: string[];
  never: string[];
}

export const DEFAULT_ARCHIVE_PREFS: ArchivePrefs = Object.freeze({ default: "always", always: [], never: [] }) as ArchivePrefs;

/** An id named by after-id, before-id or an RSM <after>/<before> is not in the archive. */
export class ArchiveItemNotFound extends Error {
  override name = "ArchiveItemNotFound";
  constructor(readonly id: string) {
    super(`no archived message with id ${id}`);
  }
}

export interface ArchiveStore {
  /** queues messages to be written; returns at once */
  append(messages: ArchivedMessage[]): void;
  /** throws ArchiveItemNotFound for an unknown after/before id */
  query(q: ArchiveQuery): Promise<ArchivePage>;
  /** replaces one archived message's XML (a XEP-0424 tombstone); false when there is none */
  replace(owner: string, id: string, xml: string): Promise<boolean>;
  /** the archived message of `owner` whose origin-id/message id is `messageId` from `by` (a sender's bare JID) */
  findByMessageId(owner: string, withBare: string, messageId: string): Promise<ArchivedMessage | undefined>;
  getPrefs(owner: string): Promise<ArchivePrefs>;
  setPrefs(owner: string, prefs: ArchivePrefs): Promise<void>;
  /** an account is gone: its archive and preferences too */
  removeOwner(owner: string): Promise<void>;
  /** resolves once everything appended so far is written */
  flush(): Promise<void>;
  close(): Promise<void>;
}

export interface ArchiveLimits {
  /** per owner; past it the oldest go (0: no cap) */
  maxPerOwner: number;
  /** older messages are deleted (0: kept) */
  retentionDays: number;
}

/** Makes stanza-ids and their ordering keys: increasing on this node, unique across nodes. */
export class ArchiveIds {
  private lastMs = 0;
  private counter = 0;
  private readonly tag: string;

  constructor(tag = Math.floor(Math.random() * 36 ** 3).toString(36).padStart(3, "0")) {
    this.tag = tag;
  }

  next(now = Date.now()): { seq: number; id: string } {
    if (now > this.lastMs) {
      this.lastMs = now;
      this.counter = 0;
    } else if (++this.counter >= 1000) {
      // more than 1000 in one millisecond: borrow the next one, order matters more than the clock
      this.lastMs++;
      this.counter = 0;
    }
    const seq = this.lastMs * 1000 + this.counter;
    return { seq, id: `${seq.toString(36)}${this.tag}` };
  }
}

/**
 * The seq an id was made with (ArchiveIds: base 36 of seq, then a 3-character node tag), so an
 * adapter can find a row by id on its (owner, seq) index without an index of ids; undefined for
 * anything that is not such an id.
 */
export function seqOfArchiveId(id: string): number | undefined {
  if (!/^[0-9a-z]{4,16}$/.test(id)) return undefined;
  const seq = parseInt(id.slice(0, -3), 36);
  return Number.isSafeInteger(seq) ? seq : undefined;
}

/** In memory, for module tests and as the reference the adapters' contract tests compare with. */
export class MemoryArchive implements ArchiveStore {
  private readonly byOwner = new Map<string, ArchivedMessage[]>();
  private readonly prefs = new Map<string, ArchivePrefs>();

  constructor(private readonly limits: ArchiveLimits = { maxPerOwner: 0, retentionDays: 0 }) {}

  append(messages: ArchivedMessage[]): void {
    for (const m of messages) {
      const rows = this.byOwner.get(m.owner) ?? [];
      rows.push({ ...m });
      rows.sort((a, b) => a.seq - b.seq);
      if (this.limits.maxPerOwner > 0 && rows.length > this.limits.maxPerOwner) rows.splice(0, rows.length - this.limits.maxPerOwner);
      this.byOwner.set(m.owner, rows);
    }
  }

  async query(q: ArchiveQuery): Promise<ArchivePage> {
    const cutoff = this.limits.retentionDays > 0 ? (Date.now() - this.limits.retentionDays * 86_400_000) * 1000 : -Infinity;
    const ids = q.ids ? new Set(q.ids) : undefined;
    const rows = (this.byOwner.get(q.owner) ?? []).filter(
      (r) =>
        r.seq >= cutoff &&
        (q.with === undefined || (r.withBare === q.with.bare && (q.with.full === undefined || r.withFull === q.with.full))) &&
        (q.minSeq === undefined || r.seq >= q.minSeq) &&
        (q.maxSeq === undefined || r.seq <= q.maxSeq) &&
        (ids === undefined || ids.has(r.id)),
    );
    // an after/before id must exist in the archive, not only in the filtered set
    const all = this.byOwner.get(q.owner) ?? [];
    for (const id of [q.afterId, q.beforeId]) if (id !== undefined && !all.some((r) => r.id === id)) throw new ArchiveItemNotFound(id);
    return pageOfFiltered(rows, all, q);
  }

  async replace(owner: string, id: string, xml: string): Promise<boolean> {
    const row = this.byOwner.get(owner)?.find((r) => r.id === id);
    if (!row) return false;
    row.xml = xml;
    return true;
  }

  async findByMessageId(owner: string, withBare: string, messageId: string): Promise<ArchivedMessage | undefined> {
    return this.byOwner.get(owner)?.find((r) => r.withBare === withBare && messageIdOf(r.xml) === messageId);
  }

  async getPrefs(owner: string): Promise<ArchivePrefs> {
    return this.prefs.get(owner) ?? DEFAULT_ARCHIVE_PREFS;
  }

  async setPrefs(owner: string, prefs: ArchivePrefs): Promise<void> {
    this.prefs.set(owner, prefs);
  }

  async removeOwner(owner: string): Promise<void> {
    this.byOwner.delete(owner);
    this.prefs.delete(owner);
  }

  async flush(): Promise<void> {}
  async close(): Promise<void> {}
}

/**
 * Paging over filtered rows when the after/before ids may lie outside the filter: the window
 * starts after (ends before) that id's position in seq order.
 */
function pageOfFiltered(rows: ArchivedMessage[], all: ArchivedMessage[], q: ArchiveQuery): ArchivePage {
  const seqOf = (id: string) => all.find((r) => r.id === id)!.seq;
  const after = q.afterId !== undefined ? seqOf(q.afterId) : -Infinity;
  const before = q.beforeId !== undefined ? seqOf(q.beforeId) : Infinity;
  const window = rows.filter((r) => r.seq > after && r.seq < before);
  const items = q.fromEnd ? window.slice(Math.max(0, window.length - q.max)) : window.slice(0, q.max);
  return { items, complete: window.length <= q.max, count: rows.length };
}

/**
 * The id a sender gave a message: XEP-0359 <origin-id/> when present, else the stanza's id
 * (XEP-0424 §4 retracts by either). A cheap scan of the serialized form, no parse.
 */
export function messageIdOf(xml: string): string | undefined {
  const origin = /<origin-id\b[^>]*\bid=(["'])([^"']*)\1/.exec(xml);
  if (origin && /urn:xmpp:sid:0/.test(origin[0])) return origin[2];
  const head = /^<message\b[^>]*?\sid=(["'])([^"']*)\1/.exec(xml);
  return head?.[2];
}
