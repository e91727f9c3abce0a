/**
 * The cluster's XEP-0313 archive in PostgreSQL (docs/architecture.md "Message archive" says why
 * PostgreSQL and not JetStream or Redis). One pool per node.
 *
 * - Appends are buffered (up to 20 ms) and written by one multi-row INSERT per batch: whatever
 *   accumulates while the previous INSERT is in flight becomes the next one, so a busy node writes few,
 *   large statements and the delivery path never waits. A failed batch is retried (three times,
 *   backing off) and then logged as lost from the archive — the messages themselves were
 *   delivered.
 * - The same three indexes as the embedded archive: (owner, seq, id), (owner, with_bare, seq,
 *   id), unique (owner, id). Pages are windows on (seq, id).
 * - The per-owner cap: each node counts what it wrote per owner (from one COUNT on its first
 *   write) and trims the oldest when its count passes the cap, then counts again; rows other
 *   nodes wrote are seen at that recount, so an archive may pass the cap by what the other
 *   nodes added since, never for long.
 * - Retention: every node deletes expired rows hourly (idempotent); queries never return them.
 */
import pg from "pg";
import {
  ArchiveItemNotFound,
  DEFAULT_ARCHIVE_PREFS,
  messageIdOf,
  type ArchiveLimits,
  type ArchivePage,
  type ArchivePrefs,
  type ArchiveQuery,
  type ArchiveStore,
  type ArchivedMessage,
} from "@switchboard/core";

/** appends wait this long at most before an INSERT takes them (fewer, larger statements) */
const HAND_OVER_MS = 20;
/** rows per INSERT statement (6 parameters each, under PostgreSQL's 65535) */
const ROWS_PER_INSERT = 1000;
const COLUMNS = "owner, seq, id, with_bare, with_full, xml";
const SELECT = "SELECT owner, seq, id, with_bare AS \"withBare\", with_full AS \"withFull\", xml FROM mam_archive";

export interface PostgresArchiveOptions extends ArchiveLimits {
  url: string;
  /** a schema of its own (created if missing); tests use a fresh one per run */
  schema?: string;
  /** pool size */
  maxConnections?: number;
  onError?: (message: string, err: unknown) => void;
}

function quoteIdent(name: string): string {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name)) throw new Error(`invalid PostgreSQL schema name ${name}`);
  return `"${name}"`;
}

export class PostgresArchive implements ArchiveStore {
  private readonly pool: pg.Pool;
  private buffered: ArchivedMessage[] = [];
  private writing: Promise<void> = Promise.resolve();
  private timer?: NodeJS.Timeout;
  private readonly counts = new Map<string, number>();
  private readonly sweeper: NodeJS.Timeout;
  private closed = false;

  private constructor(
    private readonly opts: PostgresArchiveOptions,
    pool: pg.Pool,
  ) {
    this.pool = pool;
    this.sweeper = setInterval(() => void this.expire().catch((err) => this.report("archive retention sweep failed", err)), 3_600_000);
    this.sweeper.unref();
  }

  /** Connects, creates the schema and tables when missing. */
  static async open(opts: PostgresArchiveOptions): Promise<PostgresArchive> {
    const schema = opts.schema ? quoteIdent(opts.schema) : undefined;
    const pool = new pg.Pool({
      connectionString: opts.url,
      max: opts.maxConnections ?? 4,
      // every connection of the pool works in the archive's schema
      ...(schema ? { options: `-c search_path=${schema}` } : {}),
    });
    pool.on("error", (err) => opts.onError?.("PostgreSQL connection error", err));
    try {
      if (schema) await pool.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
      await pool.query(`
        CREATE TABLE IF NOT EXISTS mam_archive (
          owner text NOT NULL, seq bigint NOT NULL, id text NOT NULL,
          with_bare text NOT NULL, with_full text NOT NULL, xml text NOT NULL);
        CREATE INDEX IF NOT EXISTS mam_archive_owner_seq ON mam_archive (owner, seq, id);
        CREATE INDEX IF NOT EXISTS mam_archive_owner_with ON mam_archive (owner, with_bare, seq, id);
        CREATE UNIQUE INDEX IF NOT EXISTS mam_archive_owner_id ON mam_archive (owner, id);
        CREATE TABLE IF NOT EXISTS mam_prefs (owner text PRIMARY KEY, prefs jsonb NOT NULL);`);
    } catch (err) {
      await pool.end().catch(() => {});
      throw err;
    }
    const archive = new PostgresArchive(opts, pool);
    await archive.expire().catch((err) => archive.report("archive retention sweep failed", err));
    return archive;
  }

  private report(message: string, err: unknown): void {
    this.opts.onError?.(message, err);
  }

  append(messages: ArchivedMessage[]): void {
    if (this.closed) return;
    for (const m of messages) this.buffered.push(m);
    if (this.timer) return;
    this.timer = setTimeout(() => void this.handOver(), HAND_OVER_MS);
    this.timer.unref();
  }

  /** chains the buffered rows behind the INSERT in flight; resolves when they are written (or given up) */
  private handOver(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.writing = this.writing.then(async () => {
      const rows = this.buffered;
      this.buffered = [];
      for (let i = 0; i < rows.length; i += ROWS_PER_INSERT) await this.insert(rows.slice(i, i + ROWS_PER_INSERT));
    });
    return this.writing;
  }

  private async insert(rows: ArchivedMessage[]): Promise<void> {
    if (rows.length === 0) return;
    const params: unknown[] = [];
    const tuples = rows.map((r) => {
      const n = params.length;
      params.push(r.owner, r.seq, r.id, r.withBare, r.withFull, r.xml);
      return `($${n + 1}, $${n + 2}, $${n + 3}, $${n + 4}, $${n + 5}, $${n + 6})`;
    });
    const sql = `INSERT INTO mam_archive (${COLUMNS}) VALUES ${tuples.join(", ")} ON CONFLICT (owner, id) DO NOTHING`;
    for (let attempt = 0; ; attempt++) {
      try {
        await this.pool.query(sql, params);
        break;
      } catch (err) {
        if (attempt >= 3 || this.closed) {
          this.report(`${rows.length} messages could not be archived`, err);
          return;
        }
        await new Promise((r) => setTimeout(r, 200 * 2 ** attempt));
      }
    }
    if (this.opts.maxPerOwner > 0) await this.enforceCap(rows).catch((err) => this.report("archive cap enforcement failed", err));
  }

  private async enforceCap(rows: ArchivedMessage[]): Promise<void> {
    const added = new Map<string, number>();
    for (const r of rows) added.set(r.owner, (added.get(r.owner) ?? 0) + 1);
    for (const [owner, n] of added) {
      let count = this.counts.get(owner);
      if (count === undefined) count = await this.count(owner);
      else count += n;
      if (count > this.opts.maxPerOwner) {
        await this.pool.query(
          `DELETE FROM mam_archive WHERE owner = $1 AND (seq, id) < (SELECT seq, id FROM mam_archive WHERE owner = $1 ORDER BY seq DESC, id DESC OFFSET $2 LIMIT 1)`,
          [owner, this.opts.maxPerOwner - 1],
        );
        count = await this.count(owner);
      }
      if (this.counts.size > 100_000) this.counts.clear();
      this.counts.set(owner, count);
    }
  }

  private async count(owner: string): Promise<number> {
    const { rows } = await this.pool.query<{ n: string }>("SELECT count(*) AS n FROM mam_archive WHERE owner = $1", [owner]);
    return Number(rows[0]!.n);
  }

  private async expire(): Promise<void> {
    if (this.opts.retentionDays <= 0) return;
    await this.pool.query("DELETE FROM mam_archive WHERE seq < $1", [this.cutoff()]);
    this.counts.clear();
  }

  private cutoff(): number {
    return (Date.now() - this.opts.retentionDays * 86_400_000) * 1000;
  }

  /** a query sees everything appended before it */
  private async settled(): Promise<void> {
    if (this.buffered.length > 0) await this.handOver();
    else await this.writing;
  }

  private async position(owner: string, id: string): Promise<{ seq: string; id: string }> {
    const { rows } = await this.pool.query<{ seq: string; id: string }>("SELECT seq, id FROM mam_archive WHERE owner = $1 AND id = $2", [owner, id]);
    if (rows.length === 0) throw new ArchiveItemNotFound(id);
    return rows[0]!;
  }

  async query(q: ArchiveQuery): Promise<ArchivePage> {
    await this.settled();
    const where = ["owner = $1"];
    const args: unknown[] = [q.owner];
    const arg = (v: unknown) => (args.push(v), `$${args.length}`);
    if (q.with) {
      where.push(`with_bare = ${arg(q.with.bare)}`);
      if (q.with.full !== undefined) where.push(`with_full = ${arg(q.with.full)}`);
    }
    if (q.minSeq !== undefined) where.push(`seq >= ${arg(q.minSeq)}`);
    if (q.maxSeq !== undefined) where.push(`seq <= ${arg(q.maxSeq)}`);
    if (this.opts.retentionDays > 0) where.push(`seq >= ${arg(this.cutoff())}`);
    if (q.ids) where.push(`id = ANY(${arg(q.ids)})`);
    const filterArgs = args.length;
    const window = [...where];
    if (q.afterId !== undefined) {
      const p = await this.position(q.owner, q.afterId);
      window.push(`(seq, id) > (${arg(p.seq)}, ${arg(p.id)})`);
    }
    if (q.beforeId !== undefined) {
      const p = await this.position(q.owner, q.beforeId);
      window.push(`(seq, id) < (${arg(p.seq)}, ${arg(p.id)})`);
    }
    const counted = this.pool.query<{ n: string }>(`SELECT count(*) AS n FROM mam_archive WHERE ${where.join(" AND ")}`, args.slice(0, filterArgs));
    if (q.max === 0) {
      const count = Number((await counted).rows[0]!.n);
      return { items: [], complete: count === 0, count };
    }
    const order = q.fromEnd ? "seq DESC, id DESC" : "seq ASC, id ASC";
    const limit = arg(q.max + 1);
    const [page, total] = await Promise.all([this.pool.query(`${SELECT} WHERE ${window.join(" AND ")} ORDER BY ${order} LIMIT ${limit}`, args), counted]);
    const rows = page.rows.map(toMessage);
    const items = rows.slice(0, q.max);
    if (q.fromEnd) items.reverse();
    return { items, complete: rows.length <= q.max, count: Number(total.rows[0]!.n) };
  }

  async replace(owner: string, id: string, xml: string): Promise<boolean> {
    await this.settled();
    const res = await this.pool.query("UPDATE mam_archive SET xml = $1 WHERE owner = $2 AND id = $3", [xml, owner, id]);
    return (res.rowCount ?? 0) > 0;
  }

  async findByMessageId(owner: string, withBare: string, messageId: string): Promise<ArchivedMessage | undefined> {
    await this.settled();
    // Recent messages with that party, newest first: a retraction names a recent message.
    const { rows } = await this.pool.query(`${SELECT} WHERE owner = $1 AND with_bare = $2 ORDER BY seq DESC, id DESC LIMIT 2000`, [owner, withBare]);
    return rows.map(toMessage).find((r) => messageIdOf(r.xml) === messageId);
  }

  async getPrefs(owner: string): Promise<ArchivePrefs> {
    const { rows } = await this.pool.query<{ prefs: ArchivePrefs }>("SELECT prefs FROM mam_prefs WHERE owner = $1", [owner]);
    return rows[0]?.prefs ?? DEFAULT_ARCHIVE_PREFS;
  }

  async setPrefs(owner: string, prefs: ArchivePrefs): Promise<void> {
    await this.pool.query("INSERT INTO mam_prefs (owner, prefs) VALUES ($1, $2) ON CONFLICT (owner) DO UPDATE SET prefs = excluded.prefs", [owner, JSON.stringify(prefs)]);
  }

  async removeOwner(owner: string): Promise<void> {
    await this.settled();
    await this.pool.query("DELETE FROM mam_archive WHERE owner = $1", [owner]);
    await this.pool.query("DELETE FROM mam_prefs WHERE owner = $1", [owner]);
    this.counts.delete(owner);
  }

  async flush(): Promise<void> {
    await this.settled();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.settled().catch(() => {});
    this.closed = true;
    clearInterval(this.sweeper);
    await this.pool.end();
  }
}

function toMessage(row: { owner: string; seq: string | number; id: string; withBare: string; withFull: string; xml: string }): ArchivedMessage {
  // bigint comes back as text; seq stays below 2^53 (ms × 1000 until the year 2255)
  return { owner: row.owner, seq: Number(row.seq), id: row.id, withBare: row.withBare, withFull: row.withFull, xml: row.xml };
}
