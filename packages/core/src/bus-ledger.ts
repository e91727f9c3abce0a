/**
 * Delivery receipts between nodes (ARCHITECTURE.md "Movable sessions"): the bus (NATS core) is
 * at-most-once, so a stanza published to a node that dies — or stops and unsubscribes — with it
 * in flight would be lost, and the sender's client was already told it was handled. Each node
 * therefore keeps what it handed to the bus for another node until that node says it handled it:
 *
 * - outgoing messages and IQ requests are numbered per destination (`seq`, with this process's
 *   `life` so a restarted node's numbers are not confused with its previous life's);
 * - the receiver reports, every RECEIPT_MS, the highest number it handled one period earlier (the
 *   lag lets per-tick writes such as stream management's Redis appends finish first);
 * - when the destination is gone — purged after its death, or stopped, whose goodbye carries its
 *   exact final receipts (`node.gone`) — what it never confirmed is routed again by the sender,
 *   now that the registry says where those sessions went (detached, another edge, offline);
 * - a stanza for a stream-management session on a node presumed dead but not purged yet is held
 *   the same way instead of falling back to offline storage, so a resumption gets it.
 *
 * A receiver may also hold back its receipt for a stanza (`pin`) until it is safe some other way:
 * stream management keeps a stanza its client acknowledges quickly out of the resumption store
 * altogether, and the sender's copy is what protects it until then (modules/sm/session.ts).
 *
 * A stanza routed again may reach a session that had it already (the gone node handled it but
 * had not confirmed it yet): every numbered stanza carries an id that stays the same when it is
 * routed again (`busIdOf`), which stream management uses to drop the second copy.
 *
 * Presence and errors are not kept: a receiver would drop them for a vanished stream anyway.
 * Stanzas for a component's shard (a MUC room) are kept the same way, presence included (a
 * join lost with a dying worker would never be answered), and routed again through the router,
 * which finds the shard's new worker.
 * Entries a live peer never confirms (a node of an older version) go after RETAIN_MS, unsent.
 * Nothing here touches Redis: the hot path pays a header and an array push per remote stanza.
 */
import { randomBytes } from "node:crypto";
import type { Element } from "@switchboard/xml";
import type { ComponentEnvelope, MulticastEnvelope, StanzaEnvelope } from "./ports.js";

export const RECEIPT_MS = 200;
/** how long an unconfirmed stanza is kept for a node (a dead node is purged within ~6 s) */
/** a pin older than this no longer holds receipts back (one a module forgot to take out) */
export const PIN_MAX_MS = 10_000;
export const RETAIN_MS = 30_000;
/** at most this many unconfirmed stanzas per destination; older ones are let go */
export const MAX_PER_NODE = 100_000;

/** Numbering of a stanza envelope, carried in its headers by the bus adapter. */
export interface EnvelopeStamp {
  origin: string;
  life: string;
  seq: number;
  /** the stanza's identity across re-routings (the first sender's numbering) */
  id: string;
}

/** a stanza's bus identity: the hop's whole numbering when it just came over the bus (one map, not two) */
const busIds = new WeakMap<Element, string | EnvelopeStamp>();

/** The bus identity of a stanza that came over the bus (or is being routed again), if any. */
export function busIdOf(el: Element): string | undefined {
  const tag = busIds.get(el);
  return typeof tag === "object" ? tag.id : tag;
}

/** Its identity (`id`), or the whole numbering of the hop it just came by over the bus to this node. */
export function tagBusId(el: Element, tag: string | EnvelopeStamp): void {
  busIds.set(el, tag);
}

/** The numbering of the bus hop that brought a stanza here (a receiver may `pin` it), if any. */
export function busStampOf(el: Element): EnvelopeStamp | undefined {
  const tag = busIds.get(el);
  return typeof tag === "object" ? tag : undefined;
}

/**
 * What is kept until confirmed: a stanza for a stream, one for several streams of the node
 * (multicast), or one for a component's shard (a MUC room).
 */
export type TrackedEnvelope = StanzaEnvelope | ComponentEnvelope | MulticastEnvelope;

export interface LedgerEntry {
  seq: number;
  env: TrackedEnvelope;
  at: number;
  /** the publish failed: the caller fell back already, nothing to do again */
  failed?: boolean;
  /** not published: kept for a node presumed dead (sent after all if it turns out alive) */
  held?: boolean;
}

/** One receipt to send: to `origin`, for its life `life`, everything up to `upTo` handled. */
export interface Receipt {
  origin: string;
  life: string;
  upTo: number;
}

interface Outbox {
  next: number;
  entries: LedgerEntry[];
  head: number;
  /** how many entries were held (an upper bound: confirmed or expired ones are not subtracted) */
  held: number;
}

interface Inbound {
  life: string;
  /** highest number handled */
  seq: number;
  /** the value at the previous tick (what the next receipt reports) */
  lagged: number;
  /** the last value reported */
  reported: number;
  /** numbers whose receipt is held back (seq → since when), see pin() */
  pinned: Map<number, number>;
}

export class BusLedger {
  /** this process's life: receipts for another life of this node id are ignored */
  readonly life = randomBytes(6).toString("base64url");
  private readonly outboxes = new Map<string, Outbox>();
  private readonly inbound = new Map<string, Inbound>();
  private overflowWarned = false;

  constructor(
    readonly nodeId: string,
    private readonly now: () => number = Date.now,
  ) {}

  /** Whether a stanza for a component's shard is worth keeping: anything but an error or a result. */
  static tracksForComponent(name: string, type: string | undefined): boolean {
    return type !== "error" && !(name === "iq" && type === "result");
  }

  /** Whether a stanza is worth keeping: one a vanished stream's node would route again. */
  static tracks(name: string, type: string | undefined): boolean {
    if (name === "message") return type !== "error";
    return name === "iq" && (type === "get" || type === "set");
  }

  /**
   * Numbers an envelope for `node` and keeps it until confirmed; `id`: its identity when routed
   * again; `held`: not published (the node is presumed dead).
   */
  record(node: string, env: TrackedEnvelope, id?: string, held = false): LedgerEntry {
    let box = this.outboxes.get(node);
    if (!box) this.outboxes.set(node, (box = { next: 1, entries: [], head: 0, held: 0 }));
    const entry: LedgerEntry = { seq: box.next++, env, at: this.now() };
    if (held) {
      entry.held = true;
      box.held++;
    }
    env.stamp = { origin: this.nodeId, life: this.life, seq: entry.seq, id: id ?? `${this.life}.${node}.${entry.seq}` };
    box.entries.push(entry);
    if (box.entries.length - box.head > MAX_PER_NODE) {
      box.head++;
      if (!this.overflowWarned) this.overflowWarned = true;
    }
    this.compact(box);
    return entry;
  }

  /** True once, the first time an outbox overflowed (the caller logs it). */
  takeOverflowWarning(): boolean {
    const warned = this.overflowWarned;
    this.overflowWarned = false;
    return warned;
  }

  /** A receipt from `node`: everything up to `upTo` it handled. */
  confirmed(node: string, life: string, upTo: number): void {
    if (life !== this.life) return;
    const box = this.outboxes.get(node);
    if (!box) return;
    while (box.head < box.entries.length && box.entries[box.head]!.seq <= upTo) box.head++;
    this.compact(box);
  }

  /**
   * `node` is gone: what it did not confirm, to be routed again (and forgotten here). Numbering
   * goes on where it was, so a receipt from a node wrongly presumed gone still makes sense.
   */
  takeUnconfirmed(node: string): LedgerEntry[] {
    const box = this.outboxes.get(node);
    if (!box) return [];
    const out = box.entries.slice(box.head).filter((e) => !e.failed);
    box.entries = [];
    box.head = 0;
    box.held = 0;
    return out;
  }

  /**
   * Entries older than RETAIN_MS: those for nodes `isAlive` says are dead are returned to be
   * routed again; those for live nodes (which do not send receipts) are let go.
   */
  expire(isAlive: (node: string) => boolean): LedgerEntry[] {
    const cutoff = this.now() - RETAIN_MS;
    const out: LedgerEntry[] = [];
    for (const [node, box] of this.outboxes) {
      const alive = isAlive(node);
      while (box.head < box.entries.length && box.entries[box.head]!.at <= cutoff) {
        const entry = box.entries[box.head++]!;
        if (!alive && !entry.failed) out.push(entry);
      }
      this.compact(box);
      // The outbox stays, empty, even for a node that went: its numbering must never start
      // again, or a resumed session that saw the earlier ids (busIdOf) would drop new stanzas
      // as copies, and a live receiver's receipts would name the wrong ones. One small object
      // per node id this process ever sent to.
      if (box.head > 0 && box.head >= box.entries.length) {
        box.entries = [];
        box.head = 0;
      }
    }
    return out;
  }

  /** Held entries for nodes `isAlive` now says are alive (they are sent, and no longer held). */
  release(isAlive: (node: string) => boolean): Array<[string, LedgerEntry]> {
    const out: Array<[string, LedgerEntry]> = [];
    for (const [node, box] of this.outboxes) {
      if (box.held === 0 || !isAlive(node)) continue;
      box.held = 0;
      for (let i = box.head; i < box.entries.length; i++) {
        const entry = box.entries[i]!;
        if (!entry.held) continue;
        entry.held = false;
        out.push([node, entry]);
      }
    }
    return out;
  }

  /** unconfirmed stanzas per destination (metrics, tests) */
  pending(): Map<string, number> {
    const out = new Map<string, number>();
    for (const [node, box] of this.outboxes) out.set(node, box.entries.length - box.head);
    return out;
  }

  /** A numbered stanza from another node was handled here. */
  handled(stamp: EnvelopeStamp): void {
    const state = this.stateOf(stamp);
    if (stamp.seq > state.seq) state.seq = stamp.seq;
  }

  private stateOf(stamp: EnvelopeStamp): Inbound {
    let state = this.inbound.get(stamp.origin);
    if (!state || state.life !== stamp.life) {
      state = { life: stamp.life, seq: 0, lagged: 0, reported: 0, pinned: new Map() };
      this.inbound.set(stamp.origin, state);
    }
    return state;
  }

  /**
   * Holds back the receipt for a stanza being handled here (before handled() is called for it)
   * until unpin(): its sender keeps it meanwhile, and routes it again if this node dies. False
   * when too late: a receipt already covers it.
   */
  pin(stamp: EnvelopeStamp): boolean {
    const state = this.stateOf(stamp);
    if (stamp.seq <= state.reported) return false;
    state.pinned.set(stamp.seq, this.now());
    return true;
  }

  /** The stanza is safe without its sender's copy (or gone for good): receipts may cover it. */
  unpin(stamp: EnvelopeStamp): void {
    const state = this.inbound.get(stamp.origin);
    if (state?.life === stamp.life) state.pinned.delete(stamp.seq);
  }

  /** stanzas whose receipt is held back (metrics, tests) */
  pinnedCount(): number {
    let n = 0;
    for (const state of this.inbound.values()) n += state.pinned.size;
    return n;
  }

  /** The receipts due now (each reports what was handled one tick ago, and nothing pinned). */
  due(): Receipt[] {
    const out: Receipt[] = [];
    for (const [origin, state] of this.inbound) {
      const upTo = this.below(state, state.lagged);
      if (upTo > state.reported) {
        out.push({ origin, life: state.life, upTo });
        state.reported = upTo;
      }
      state.lagged = state.seq;
    }
    return out;
  }

  /** Exact receipts for everything handled and not pinned (at stop, once nothing more arrives). */
  final(): Receipt[] {
    return [...this.inbound].map(([origin, s]) => ({ origin, life: s.life, upTo: this.below(s, s.seq) }));
  }

  /** `upTo`, lowered below the oldest live pin; pins past PIN_MAX_MS are dropped. */
  private below(state: Inbound, upTo: number): number {
    if (state.pinned.size === 0) return upTo;
    const stale = this.now() - PIN_MAX_MS;
    let lowest = upTo;
    for (const [seq, at] of state.pinned) {
      if (at <= stale) state.pinned.delete(seq);
      else if (seq - 1 < lowest) lowest = seq - 1;
    }
    return lowest;
  }

  private compact(box: Outbox): void {
    if (box.head > 1024 && box.head * 2 > box.entries.length) {
      box.entries.splice(0, box.head);
      box.head = 0;
    }
  }
}
