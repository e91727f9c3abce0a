/**
 * The thread that owns `<dataDir>/archive.sqlite` (XEP-0313 archive, embedded mode). The main
 * thread posts batches of appends without waiting and awaits queries; everything touching the
 * file happens here, so a big write or an OFFSET-free page read never holds the event loop that
 * serves the streams.
 *
 * One index only, (owner, seq), on a plain rowid table: pages, the cap, `start`/`end` and
 * lookups by id (the seq is decoded from the id, core seqOfArchiveId) are ranges of it, and a
 * `with` query reads the owner's range and filters (an archive is bounded by
 * `mam.maxMessagesPerUser`). Measured here with 200 owners writing at once: 4.4 µs of CPU a row
 * with this one index, 9–15 µs with a second (owner, with, seq) index or the rows clustered by
 * owner (WITHOUT ROWID), which under the benchmark's chat was most of the archive's cost. This
 * node makes every seq (one ArchiveIds), so seq alone orders an owner's archive. Row counts
 * per owner are kept here in memory (counted once on first write), so enforcing
 * `mam.maxMessagesPerUser` costs no COUNT per batch.
 *
 * Plain JavaScript evaluated from a string (as the Redis heartbeat worker and the OTLP export
 * thread): no TypeScript loader in the thread, the same under tsx, vitest and a build.
 */
export const ARCHIVE_WORKER_SOURCE = `
const { parentPort, workerData: d } = require("node:worker_threads");
const Database = require(d.sqlitePath);
const db = new Database(d.file);
db.pragma("journal_mode = WAL");
db.pragma("synchronous = NORMAL");
// the indexes of a big archive stay in memory (the default is 2 MB)
db.pragma("cache_size = -65536");
db.exec(\`
CREATE TABLE IF NOT EXISTS archive (
  owner TEXT NOT NULL, seq INTEGER NOT NULL, id TEXT NOT NULL,
  with_bare TEXT NOT NULL, with_full TEXT NOT NULL, xml TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS archive_owner_seq ON archive (owner, seq);
CREATE TABLE IF NOT EXISTS archive_prefs (owner TEXT PRIMARY KEY, prefs TEXT NOT NULL);
\`);
const insert = db.prepare("INSERT OR IGNORE INTO archive (owner, seq, id, with_bare, with_full, xml) VALUES (?, ?, ?, ?, ?, ?)");
const countOwner = db.prepare("SELECT count(*) AS n FROM archive WHERE owner = ?");
const trimOldest = db.prepare("DELETE FROM archive WHERE owner = ? AND seq <= (SELECT seq FROM archive WHERE owner = ? ORDER BY seq LIMIT 1 OFFSET ?)");
const byId = db.prepare("SELECT seq, id FROM archive WHERE owner = ? AND seq = ? AND id = ?");
const replaceXml = db.prepare("UPDATE archive SET xml = ? WHERE owner = ? AND seq = ? AND id = ?");
const byWith = db.prepare("SELECT owner, seq, id, with_bare AS withBare, with_full AS withFull, xml FROM archive WHERE owner = ? AND seq >= ? AND with_bare = ? ORDER BY seq DESC LIMIT 2000");
const getPrefs = db.prepare("SELECT prefs FROM archive_prefs WHERE owner = ?");
const putPrefs = db.prepare("INSERT INTO archive_prefs (owner, prefs) VALUES (?, ?) ON CONFLICT (owner) DO UPDATE SET prefs = excluded.prefs");
const removeRows = db.prepare("DELETE FROM archive WHERE owner = ?");
const removePrefs = db.prepare("DELETE FROM archive_prefs WHERE owner = ?");
const expire = db.prepare("DELETE FROM archive WHERE seq < ?");
const counts = new Map();

const countOf = (owner) => {
  let n = counts.get(owner);
  if (n === undefined) counts.set(owner, (n = countOwner.get(owner).n));
  return n;
};

const appendAll = db.transaction((rows) => {
  const added = new Map();
  for (const r of rows) {
    countOf(r.owner); // counted before the insert, so the count stays exact
    if (insert.run(r.owner, r.seq, r.id, r.withBare, r.withFull, r.xml).changes) added.set(r.owner, (added.get(r.owner) || 0) + 1);
  }
  for (const [owner, n] of added) {
    let total = counts.get(owner) + n;
    if (d.maxPerOwner > 0 && total > d.maxPerOwner) {
      trimOldest.run(owner, owner, total - d.maxPerOwner - 1);
      total = d.maxPerOwner;
    }
    counts.set(owner, total);
  }
});

function expireOld() {
  if (d.retentionDays <= 0) return;
  const cutoff = (Date.now() - d.retentionDays * 86400000) * 1000;
  if (expire.run(cutoff).changes > 0) counts.clear();
}

/** core seqOfArchiveId: the id is base 36 of its seq and a 3-character tag */
function seqOf(id) {
  if (typeof id !== "string" || !/^[0-9a-z]{4,16}$/.test(id)) return undefined;
  const seq = parseInt(id.slice(0, -3), 36);
  return Number.isSafeInteger(seq) ? seq : undefined;
}
const seqOfId = { get: (owner, id) => { const seq = seqOf(id); return seq === undefined ? undefined : byId.get(owner, seq, id); } };

function notFound(id) {
  const e = new Error("no archived message with id " + id);
  e.itemNotFound = id;
  throw e;
}

function query(q) {
  const where = ["owner = ?"];
  const args = [q.owner];
  if (q.with) {
    where.push("with_bare = ?");
    args.push(q.with.bare);
    if (q.with.full !== undefined) { where.push("with_full = ?"); args.push(q.with.full); }
  }
  if (q.minSeq !== undefined) { where.push("seq >= ?"); args.push(q.minSeq); }
  if (q.maxSeq !== undefined) { where.push("seq <= ?"); args.push(q.maxSeq); }
  if (d.retentionDays > 0) { where.push("seq >= ?"); args.push((Date.now() - d.retentionDays * 86400000) * 1000); }
  if (q.ids) { where.push("id IN (" + q.ids.map(() => "?").join(",") + ")"); args.push(...q.ids); }
  const filter = where.join(" AND ");
  const count = db.prepare("SELECT count(*) AS n FROM archive WHERE " + filter).get(...args).n;
  const window = [filter];
  const wargs = [...args];
  if (q.afterId !== undefined) {
    const row = seqOfId.get(q.owner, q.afterId);
    if (!row) notFound(q.afterId);
    window.push("seq > ?"); wargs.push(row.seq);
  }
  if (q.beforeId !== undefined) {
    const row = seqOfId.get(q.owner, q.beforeId);
    if (!row) notFound(q.beforeId);
    window.push("seq < ?"); wargs.push(row.seq);
  }
  if (q.max === 0) return { items: [], complete: count === 0, count };
  const sql = "SELECT owner, seq, id, with_bare AS withBare, with_full AS withFull, xml FROM archive WHERE " + window.join(" AND ") +
    " ORDER BY seq " + (q.fromEnd ? "DESC" : "ASC") + " LIMIT ?";
  const rows = db.prepare(sql).all(...wargs, q.max + 1);
  const complete = rows.length <= q.max;
  const items = rows.slice(0, q.max);
  if (q.fromEnd) items.reverse();
  return { items, complete, count };
}

// Rows wait here and are committed together: every commit rewrites each page it touched, and
// with rows of many owners on different pages, fewer commits is what makes appends cheap.
let pending = [];
let commitTimer;
function commit() {
  if (commitTimer) clearTimeout(commitTimer);
  commitTimer = undefined;
  if (pending.length === 0) return;
  const rows = pending;
  pending = [];
  try {
    appendAll(rows);
  } catch (err) {
    parentPort.postMessage({ ok: false, message: String(err && err.message) });
  }
}

const ops = {
  append: (rows) => {
    for (const r of rows) pending.push(r);
    if (pending.length >= d.commitRows) commit();
    else if (!commitTimer) commitTimer = setTimeout(commit, d.commitMs);
  },
  query,
  replace: (owner, id, xml) => { const seq = seqOf(id); return seq !== undefined && replaceXml.run(xml, owner, seq, id).changes > 0; },
  // a retraction names a recent message: the last 30 days are looked at
  byWith: (owner, withBare) => byWith.all(owner, (Date.now() - 30 * 86400000) * 1000, withBare),
  getPrefs: (owner) => { const row = getPrefs.get(owner); return row ? JSON.parse(row.prefs) : undefined; },
  setPrefs: (owner, prefs) => { putPrefs.run(owner, JSON.stringify(prefs)); },
  removeOwner: (owner) => { removeRows.run(owner); removePrefs.run(owner); counts.delete(owner); },
  flush: () => true,
};

expireOld();
const sweeper = setInterval(expireOld, 3600000);

parentPort.on("message", (m) => {
  if (m.op === "close") {
    commit();
    clearInterval(sweeper);
    db.close();
    parentPort.postMessage({ id: m.id, ok: true });
    parentPort.close();
    return;
  }
  try {
    // what is asked sees every row appended before it
    if (m.op !== "append") commit();
    const value = ops[m.op](...m.args);
    if (m.id !== undefined) parentPort.postMessage({ id: m.id, ok: true, value });
  } catch (err) {
    if (m.id !== undefined) parentPort.postMessage({ id: m.id, ok: false, message: String(err && err.message), itemNotFound: err && err.itemNotFound });
    else parentPort.postMessage({ ok: false, message: String(err && err.message) });
  }
});
`;
