/**
 * Where stream-management sessions (XEP-0198) keep what a resumption needs, outside the edge
 * that holds the stream (ARCHITECTURE.md "Movable sessions"): the counters, the stanzas the
 * client has not acknowledged (and those queued while it was away), and the session's module
 * state. Embedded: in memory (one process). Cluster: Redis, under the user's hash tag, so a
 * client resumes on whichever edge it reaches next, also after its edge was killed.
 *
 * Ownership: the node and stream holding the session now. Writes name the owner and are
 * refused once someone else claimed the record (a resumption elsewhere), so a stream that lost
 * its session cannot write after the new one took over. A claim is atomic: of a resumption and
 * an expiry racing for one record, one wins.
 */

import { randomBytes } from "node:crypto";
import { tryParseJid, type Jid } from "@switchboard/xml";

/**
 * A resumption id that names its session: base64url of the full JID, a dot, 96 random bits.
 * A node that has never seen the session can find its state (kept under the user's key) from
 * the id alone; the random part makes it unguessable, and the resuming stream must be
 * authenticated as that user anyway.
 */
export function newResumptionId(jid: Jid): string {
  return `${Buffer.from(jid.full).toString("base64url")}.${randomBytes(12).toString("base64url")}`;
}

export function jidOfResumptionId(id: string): Jid | undefined {
  const dot = id.indexOf(".");
  if (dot <= 0 || id.length > 3072) return undefined;
  const encoded = id.slice(0, dot);
  if (!/^[A-Za-z0-9_-]+$/.test(encoded)) return undefined;
  const jid = tryParseJid(Buffer.from(encoded, "base64url").toString("utf8"));
  return jid?.resource ? jid : undefined;
}

/** One stanza for the client, numbered in the order it was (or will be) written. */
export interface QueuedStanza {
  /** sequence number: the nth stanza of the session for the client (XEP-0198 'h', unbounded) */
  seq: number;
  xml: string;
  /** epoch ms it was queued (the XEP-0203 stamp on retransmission) */
  at: number;
  /** its bus id when it came over the bus (bus-ledger.ts), so a copy routed again is dropped */
  bid?: string;
}

/** How long a session remembers the bus ids it had (longer than a sender keeps them: RETAIN_MS). */
export const SEEN_MS = 60_000;

export interface ResumptionOwner {
  nodeId: string;
  sessionId: string;
}

export interface ResumptionRecord {
  /** the resumption id given to the client (XEP-0198 'id'/'previd') */
  id: string;
  /** the session's full JID */
  jid: string;
  /** holder of the stream; undefined while detached */
  owner?: ResumptionOwner;
  /** the registry entry's session id (the stream that bound the resource, or the last resumed one) */
  sessionId: string;
  /** stanzas from the client the server handled (unbounded; 'h' on the wire is this mod 2^32) */
  inbound: number;
  /** sequence number of the last stanza queued for the client */
  outbound: number;
  /** the session's module state (SessionTable.exportState), as of its last save */
  state: Record<string, unknown>;
  /** epoch ms the detached session ends at, while detached */
  detachedUntil?: number;
  /** stanzas for the client not acknowledged yet, by sequence number */
  queue: QueuedStanza[];
  /** bus ids of the stanzas it had in the last SEEN_MS (given by claim; ignored by create) */
  seen?: string[];
  /**
   * true when its last stream's owner saved everything at detach; false after a crash (its node
   * died, or it was taken over while attached), when the store may lag what that stream wrote
   * by one sync (given by claim; ignored by create)
   */
  saved?: boolean;
  /**
   * the outbound count when its stream went (detach) or its node died (orphan), given by claim:
   * queued stanzas numbered above it were queued while detached and never written to the client
   */
  written?: number;
}

/** duplicate: the session had that stanza already (same bus id), nothing was added */
export type EnqueueResult = "queued" | "duplicate" | "full" | "gone";

/** What a detaching owner leaves in the record. */
export interface DetachedState {
  /** epoch ms the detached session ends at */
  until: number;
  inbound: number;
  outbound: number;
  state: Record<string, unknown>;
  /** queued stanzas the store does not hold yet (all of them, for a store that is not durable) */
  unsaved: QueuedStanza[];
  /** the client's last acknowledgement: what it covers is no longer kept */
  acked?: number;
}

/**
 * resume: a client takes the session over (refused while an expiry is handling it);
 * expire: the sweep ends a detached session whose deadline passed (refused otherwise).
 */
export type ClaimMode = "resume" | "expire";

/** Owners whose session id starts with this are expiries in progress. */
export const EXPIRY_OWNER = "expiry:";

/** What one sync brings to a session's stored record (stream management: one call per session). */
export interface AppendBatch {
  /** stanzas written to the client and not acknowledged yet, in order */
  entries: QueuedStanza[];
  /**
   * bus ids of stanzas the client acknowledged before they were ever stored: not queued, only
   * remembered, so a copy their sender routes again after a crash here is dropped
   */
  seen?: string[];
  /** the number of the last stanza written to the client (the stored count only rises) */
  outbound: number;
  /** stanzas from the client handled (the stored count only rises) */
  inbound: number;
  /** queued stanzas up to this one are forgotten (the client acknowledged them) */
  ackedUpTo?: number;
}

export interface ResumptionStore {
  /** true when what append() resolved cannot be lost with this process (the cluster's Redis) */
  readonly durable: boolean;
  create(record: ResumptionRecord): Promise<void>;
  /**
   * Adds stanzas written (or about to be) by the owner, raises its counts, and with `ackedUpTo`
   * forgets what the client acknowledged — one call per session per sync (stream management
   * batches them). False when it no longer owns the record.
   */
  append(id: string, owner: ResumptionOwner, batch: AppendBatch): Promise<boolean>;
  /**
   * Forgets stanzas up to `upTo` (acknowledged by the client), and with `outbound` sets that
   * count (a resumption numbered the queue again); false when not the owner.
   */
  ack(id: string, owner: ResumptionOwner, upTo: number, inbound: number, outbound?: number): Promise<boolean>;
  /**
   * The owner's stream is gone: the record is kept, with the given final counters and state,
   * until `detached.until`, its unsaved stanzas added; false when not the owner.
   */
  detach(id: string, owner: ResumptionOwner, detached: DetachedState): Promise<boolean>;
  /**
   * The owner's node died (the cluster purged it): the record is detached until `until` with what
   * it last saved. False when the record is gone or owned by someone else now.
   */
  orphan(id: string, deadNode: string, until: number): Promise<boolean>;
  /** Queues a stanza for a detached session, at most `max` waiting; `bid`: its bus id. */
  enqueue(id: string, xml: string, at: number, max: number, bid?: string): Promise<EnqueueResult>;
  /**
   * Takes the record over for `owner` (see ClaimMode) and returns it as it was; undefined when it
   * is gone or the mode does not apply. The record's sessionId becomes the owner's.
   */
  claim(id: string, owner: ResumptionOwner, mode: ClaimMode, now?: number): Promise<ResumptionRecord | undefined>;
  /** Ids of detached records whose deadline passed, at most `limit`. */
  expired(now: number, limit: number): Promise<string[]>;
  /**
   * Removes the record. With `remember`, the session's inbound count is kept for that long, so
   * a late resumption is told how many stanzas were handled (XEP-0198 §5 <failed h/>).
   */
  delete(id: string, remember?: { inbound: number; ms: number }): Promise<void>;
  /** The inbound count of a session that timed out recently (see delete), if remembered. */
  ended(id: string): Promise<number | undefined>;
}

/** The embedded store: one process, so memory is outside "the edge" enough. */
export class MemoryResumptionStore implements ResumptionStore {
  readonly durable = false;
  private readonly records = new Map<string, ResumptionRecord>();
  private readonly seen = new Map<string, Map<string, number>>();
  private readonly endings = new Map<string, { inbound: number; until: number }>();

  private owned(id: string, owner: ResumptionOwner): ResumptionRecord | undefined {
    const r = this.records.get(id);
    return r?.owner && r.owner.nodeId === owner.nodeId && r.owner.sessionId === owner.sessionId ? r : undefined;
  }

  private remember(id: string, entries: QueuedStanza[], now: number): void {
    let seen = this.seen.get(id);
    if (!seen) this.seen.set(id, (seen = new Map()));
    for (const e of entries) if (e.bid) seen.set(e.bid, now);
    for (const [bid, at] of seen) if (at <= now - SEEN_MS) seen.delete(bid);
  }

  async create(record: ResumptionRecord): Promise<void> {
    const { seen: _ignored, ...kept } = record;
    this.records.set(record.id, structuredClone(kept));
    this.seen.delete(record.id);
  }

  async append(id: string, owner: ResumptionOwner, batch: AppendBatch): Promise<boolean> {
    const r = this.owned(id, owner);
    if (!r) return false;
    const now = Date.now();
    this.remember(id, batch.entries, now);
    const seen = this.seen.get(id)!;
    for (const bid of batch.seen ?? []) seen.set(bid, now);
    for (const e of batch.entries) r.queue.push({ ...e });
    r.outbound = Math.max(r.outbound, batch.outbound, batch.entries.at(-1)?.seq ?? 0);
    r.inbound = Math.max(r.inbound, batch.inbound);
    const upTo = batch.ackedUpTo;
    if (upTo !== undefined) r.queue = r.queue.filter((e) => e.seq > upTo);
    return true;
  }

  async ack(id: string, owner: ResumptionOwner, upTo: number, inbound: number, outbound?: number): Promise<boolean> {
    const r = this.owned(id, owner);
    if (!r) return false;
    r.queue = r.queue.filter((e) => e.seq > upTo);
    r.inbound = Math.max(r.inbound, inbound);
    if (outbound !== undefined) r.outbound = outbound;
    return true;
  }

  async detach(id: string, owner: ResumptionOwner, detached: DetachedState): Promise<boolean> {
    const r = this.owned(id, owner);
    if (!r) return false;
    this.remember(id, detached.unsaved, Date.now());
    for (const e of detached.unsaved) if (!r.queue.some((q) => q.seq === e.seq)) r.queue.push({ ...e });
    r.queue.sort((a, b) => a.seq - b.seq);
    if (detached.acked !== undefined) r.queue = r.queue.filter((e) => e.seq > detached.acked!);
    r.outbound = Math.max(r.outbound, detached.outbound, r.queue.at(-1)?.seq ?? 0);
    r.inbound = Math.max(r.inbound, detached.inbound);
    r.state = structuredClone(detached.state);
    r.owner = undefined;
    r.detachedUntil = detached.until;
    r.saved = true;
    r.written = r.outbound;
    return true;
  }

  async orphan(id: string, deadNode: string, until: number): Promise<boolean> {
    const r = this.records.get(id);
    if (!r || !r.owner || r.owner.nodeId !== deadNode) return false;
    r.owner = undefined;
    r.saved = false;
    r.written = r.outbound;
    r.detachedUntil = until;
    return true;
  }

  async enqueue(id: string, xml: string, at: number, max: number, bid?: string): Promise<EnqueueResult> {
    const r = this.records.get(id);
    if (!r || r.owner) return "gone";
    if (bid && this.seen.get(id)?.has(bid)) return "duplicate";
    if (r.queue.length >= max) return "full";
    r.outbound++;
    const entry: QueuedStanza = { seq: r.outbound, xml, at, ...(bid ? { bid } : {}) };
    r.queue.push(entry);
    this.remember(id, [entry], at);
    return "queued";
  }

  async claim(id: string, owner: ResumptionOwner, mode: ClaimMode, now = Date.now()): Promise<ResumptionRecord | undefined> {
    const r = this.records.get(id);
    if (!r) return undefined;
    if (mode === "resume" && r.owner?.sessionId.startsWith(EXPIRY_OWNER)) return undefined;
    if (mode === "expire" && (r.owner || r.detachedUntil === undefined || r.detachedUntil > now)) return undefined;
    const before: ResumptionRecord = structuredClone(r);
    before.seen = [...(this.seen.get(id) ?? new Map<string, number>())].filter(([, t]) => t > now - SEEN_MS).map(([bid]) => bid);
    before.saved = r.saved === true;
    r.owner = { ...owner };
    r.sessionId = owner.sessionId;
    r.detachedUntil = undefined;
    r.saved = false;
    return before;
  }

  async expired(now: number, limit: number): Promise<string[]> {
    const out: string[] = [];
    for (const r of this.records.values()) {
      if (r.detachedUntil !== undefined && r.detachedUntil <= now) out.push(r.id);
      if (out.length >= limit) break;
    }
    return out;
  }

  async delete(id: string, remember?: { inbound: number; ms: number }): Promise<void> {
    this.records.delete(id);
    this.seen.delete(id);
    if (!remember) return;
    const now = Date.now();
    for (const [old, e] of this.endings) if (e.until <= now) this.endings.delete(old);
    this.endings.set(id, { inbound: remember.inbound, until: now + remember.ms });
  }

  async ended(id: string): Promise<number | undefined> {
    const e = this.endings.get(id);
    return e && e.until > Date.now() ? e.inbound : undefined;
  }
}
