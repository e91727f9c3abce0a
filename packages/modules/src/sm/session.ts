/**
 * One stream-managed session on this node (XEP-0198 §3–§4): its counters, the stanzas the client
 * has not acknowledged, the acks it asks for and answers. Node-local and rebuilt on resumption;
 * what must outlive the edge is written to the resumption store:
 *
 * - with a durable store (the cluster's Redis), stanzas for the client are written to the socket
 *   at once; one the client acknowledges soon never reaches the store. Until then it is safe
 *   elsewhere, or is written to the store before anyone is told it was handled (sync.ts: one
 *   store call per session per sync, no Redis round trip per stanza):
 *   - one that came over the bus stays with its sender, whose receipt this node holds back
 *     (core bus-ledger.ts `pin`) until the client acknowledged it or it was stored, DEFER_MS at
 *     most: if this node dies, the sender routes it again;
 *   - one from a stream-managed client here is stored before that client's <r/> is answered,
 *     unless acknowledged by then;
 *   - any other after DEFER_MS, or at once when nothing else protects it (routed again from a
 *     gone node's unconfirmed ones);
 *   one acknowledged before it was stored leaves only its bus id there (a copy its sender routes
 *   again after a crash here is dropped); the client's handled count reaches the store before
 *   an <a/> states it;
 * - with the embedded store everything is saved when the stream goes away.
 */
import { x, type Element } from "@switchboard/xml";
import { SEEN_MS, busIdOf, busStampOf, type EnvelopeStamp, type Host, type Logger, type QueuedStanza, type ResumptionOwner, type Session, type StreamElementContext } from "@switchboard/core";
import { NS_SM, toWire } from "./counters.js";
import type { SmOptions } from "./options.js";
import type { SmSync } from "./sync.js";

/**
 * how long a written stanza may stay out of the store while the client has not acknowledged it;
 * short, because after a crash here one its client handled unacknowledged comes again from its
 * sender (docs/architecture.md)
 */
export const DEFER_MS = 250;

export interface Pending {
  seq: number;
  el: Element;
  at: number;
  /** serialized once it went to the store */
  xml?: string;
  /** bus id, when it came over the bus */
  bid?: string;
  /** the bus hop whose receipt waits until this one is acknowledged or stored */
  pinned?: EnvelopeStamp;
  /** the stream-managed client here that sent it (stored before that client's <r/> is answered) */
  sender?: SmSession;
  /** to the store at the next sync: nothing else protects it */
  urgent?: boolean;
}

export class SmSession {
  /** stanzas from the client handled (unbounded) */
  inbound = 0;
  /** the inbound count the store has (an <a/> may not tell the client more, see saveInbound) */
  private savedInbound = 0;
  /** sequence number of the last stanza for the client */
  outbound: number;
  /** the client's last acknowledgement (unbounded) */
  acked: number;
  /** written or waiting to be, not acknowledged, in order */
  readonly queue: Pending[] = [];
  /** written, not in the store yet (durable store only; acknowledged ones are skipped at sync) */
  private unsaved: Pending[] = [];
  /** the outbound count the store has */
  private storedOutbound: number;
  /** the highest sequence number the store may queue, and the last acknowledgement it had */
  private storedMax: number;
  private storedAcked: number;
  /** <r/> from this client waiting for their answer (see Pending.sender) */
  awaitingAnswer = 0;
  /** the last answer on its way (answers go out in order) */
  private answering: Promise<void> = Promise.resolve();
  /** written while the store could not be reached: saved at detach */
  private readonly unsavedAfterFailure: Pending[] = [];
  private lastRequested: number;
  private ackTimer?: NodeJS.Timeout;
  private ackWaiters: Array<() => void> = [];
  /** false once the session moved elsewhere or ended: nothing more is written here */
  live = true;
  /**
   * a resumption not answered yet: stanzas for the client are numbered and kept, not written,
   * until release() (none may precede <resumed/>, XEP-0198 §5)
   */
  private holding: boolean;
  /**
   * resumable, and its stream is gone or going (lifecycle.ts is saving it): stanzas for it are
   * kept here, unnumbered, for the store's queue (or wherever the session went)
   */
  detaching = false;
  private late: Element[] = [];
  /** how long it waits detached for a resumption (<enabled max/>, at most sm.resumeTimeoutSeconds) */
  resumeSeconds: number;
  /**
   * bus ids of stanzas this session had lately (core bus-ledger.ts): a copy routed again by a
   * sender whose receipt was lost with a dead node is dropped, not written twice
   */
  private seen = new Set<string>();
  /** the previous generation of `seen` (each lasts core SEEN_MS) */
  private seenBefore = new Set<string>();
  private seenSince = Date.now();

  constructor(
    readonly host: Host,
    readonly session: Session,
    readonly stream: StreamElementContext,
    readonly id: string | undefined,
    readonly options: SmOptions,
    readonly log: Logger,
    start: { inbound: number; outbound: number; acked?: number; seen?: string[]; holding?: boolean },
    private readonly syncs?: SmSync,
  ) {
    const now = Date.now();
    for (const bid of start.seen ?? []) this.seen.add(bid);
    this.seenSince = now;
    this.inbound = start.inbound;
    this.savedInbound = start.inbound;
    this.outbound = start.outbound;
    this.acked = start.acked ?? start.outbound;
    this.storedOutbound = start.outbound;
    this.storedMax = start.outbound;
    this.storedAcked = this.acked;
    this.lastRequested = this.acked;
    this.resumeSeconds = options.resumeTimeoutSeconds;
    this.holding = start.holding ?? false;
    if (this.durable) syncs?.senders.set(session.jid.full, this);
  }

  get resumable(): boolean {
    return this.id !== undefined;
  }

  get owner(): ResumptionOwner {
    return { nodeId: this.host.nodeId, sessionId: this.session.id };
  }

  private get durable(): boolean {
    return this.resumable && this.host.resumption.durable;
  }

  /** The outgoing filter's part: number the stanza and keep it until acknowledged. */
  outgoing(el: Element): Element | "queued" | "coalesced" | "refused" {
    if (this.resumable && (this.detaching || this.stream.state === "closed")) {
      this.late.push(el);
      return "queued";
    }
    if (this.queue.length >= this.options.maxUnacked) {
      // A client that never acknowledges would grow this without bound (XEP-0198 §4 leaves the
      // server free to end such a stream); ending it reroutes what it holds (lifecycle.ts).
      this.log.warn({ jid: this.session.jid.full, unacked: this.queue.length }, "stream management: client does not acknowledge, closing");
      this.session.close();
      return "refused";
    }
    const bid = busIdOf(el);
    if (bid !== undefined && !this.firstTime(bid)) return "coalesced"; // it had this one already
    const entry: Pending = { seq: ++this.outbound, el, at: Date.now(), bid };
    this.queue.push(entry);
    if (this.durable) {
      const stamp = busStampOf(el);
      if (stamp && this.host.ledger.pin(stamp)) entry.pinned = stamp;
      else if (bid !== undefined) entry.urgent = true;
      else if (el.attrs.from) entry.sender = this.syncs?.senders.get(el.attrs.from);
      this.unsaved.push(entry);
      this.syncs?.mark(this);
    }
    if (this.holding) return "queued";
    this.afterWrite();
    return el;
  }

  /**
   * §5, once <resumed/> is out: the stanzas the client had not acknowledged (`earlier`, from the
   * store), then those held while the resumption was answered, written in order.
   */
  release(earlier: Pending[]): void {
    this.holding = false;
    const held = this.queue.splice(0);
    this.queue.push(...earlier, ...held);
    if (this.durable && earlier.length > 0) {
      // numbered again (resume.ts): the store has them no more, under these numbers
      for (const p of earlier) p.urgent = true;
      this.unsaved.unshift(...earlier);
      this.syncs?.mark(this);
    }
    const connection = this.session.currentConnection;
    for (const p of this.queue) if (connection?.write(p.el) === "refused") break;
    if (this.queue.length > 0) this.requestAck();
  }

  /** Records a bus id; false when the session had it already. */
  firstTime(bid: string): boolean {
    if (this.seen.has(bid) || this.seenBefore.has(bid)) return false;
    this.seen.add(bid);
    // Two generations of SEEN_MS each: an id is remembered for SEEN_MS at least, with no sweep.
    if (this.seen.size % 64 === 0) {
      const now = Date.now();
      if (now - this.seenSince >= SEEN_MS) {
        this.seenBefore = this.seen;
        this.seen = new Set();
        this.seenSince = now;
      }
    }
    return true;
  }

  /**
   * The store gets, in one call, what it must have by now (see the header) and the counts (SmSync
   * decides when); stanzas that may still wait stay for a later sync.
   */
  async sync(): Promise<void> {
    if (!this.live || !this.durable) return;
    const now = Date.now();
    const batch: Pending[] = [];
    const waiting: Pending[] = [];
    const seen: string[] = [];
    for (const p of this.unsaved) {
      if (p.seq <= this.acked) {
        // acknowledged: never stored, only remembered (its sender may not have had this node's
        // receipt for it yet, and would route it again if this node died now)
        if (p.bid !== undefined) seen.push(p.bid);
        continue;
      }
      if (p.urgent || now - p.at >= DEFER_MS || (p.sender?.awaitingAnswer ?? 0) > 0) batch.push(p);
      else waiting.push(p);
    }
    this.unsaved = waiting;
    if (waiting.length > 0) this.syncs?.mark(this);
    const inbound = this.inbound;
    const outbound = this.outbound;
    // what the store queues up to the acknowledgement goes; a resumption after a crash takes the
    // stored outbound count plus sm.maxUnacked, so it may lag by half of that
    const acked = this.acked > this.storedAcked && this.storedMax > this.storedAcked ? this.acked : undefined;
    const behind = outbound - this.storedOutbound >= Math.max(1, this.options.maxUnacked >> 1);
    if (batch.length === 0 && seen.length === 0 && acked === undefined && inbound <= this.savedInbound && !behind) return;
    let owned = true;
    try {
      owned = await this.host.resumption.append(this.id!, this.owner, { entries: batch.map(toQueued), seen, outbound, inbound, ackedUpTo: acked });
      this.savedInbound = Math.max(this.savedInbound, inbound);
      this.storedOutbound = Math.max(this.storedOutbound, outbound);
      if (batch.length > 0) this.storedMax = Math.max(this.storedMax, batch.at(-1)!.seq);
      if (acked !== undefined) this.storedAcked = Math.max(this.storedAcked, acked);
      // stored what the client had acknowledged already: that acknowledgement follows
      if (this.acked > this.storedAcked && this.storedMax > this.storedAcked) this.syncs?.mark(this);
    } catch (err) {
      // Redis away: the stanzas stay in memory and are saved with the session if its stream
      // goes away while this process lives.
      this.log.warn({ err, jid: this.session.jid.full }, "stream management: could not save written stanzas");
      this.unsavedAfterFailure.push(...batch);
    }
    for (const p of batch) this.unpin(p);
    if (!owned) {
      // Resumed elsewhere meanwhile: the new holder's queue does not have these; route them to it.
      for (const p of batch) await this.host.router.route(p.el).catch(() => {});
    }
  }

  private unpin(p: Pending): void {
    if (!p.pinned) return;
    this.host.ledger.unpin(p.pinned);
    p.pinned = undefined;
  }

  /** Once what it held is stored or routed elsewhere: receipts to its senders may cover it all. */
  releasePins(): void {
    for (const p of this.queue) this.unpin(p);
  }

  /** Whether the store lacks the handled count an <a/> would state now (see protocol.ts). */
  get inboundUnsaved(): boolean {
    return this.durable && this.inbound > this.savedInbound;
  }

  /** Marks the session for the next sync. */
  markDirty(): void {
    this.syncs?.mark(this);
  }

  /** Stanzas that came while the stream was going away (see `detaching`). */
  takeLate(): Element[] {
    return this.late.splice(0);
  }

  /**
   * What a detach must still save: what the store does not have and the client did not
   * acknowledge (everything, if not durable). Their pins go with releasePins() once saved.
   */
  takeUnsaved(): QueuedStanza[] {
    const all = this.durable ? [...this.unsavedAfterFailure, ...this.unsaved].filter((p) => p.seq > this.acked).sort((a, b) => a.seq - b.seq) : [...this.queue];
    this.unsaved = [];
    this.unsavedAfterFailure.length = 0;
    return all.map(toQueued);
  }

  /**
   * §4: ask for an ack every ackEvery stanzas, and after ackAfterSeconds of unacked output. The
   * stanza is written when the filter returns, so a due <r/> goes in a microtask (one per
   * ackEvery stanzas, not one per stanza).
   */
  private afterWrite(): void {
    if (this.outbound - this.lastRequested >= this.options.ackEvery) {
      this.lastRequested = this.outbound;
      queueMicrotask(() => {
        if (this.live) this.requestAck();
      });
    }
    if (!this.ackTimer && this.queue.length > 0) {
      this.ackTimer = setTimeout(() => {
        this.ackTimer = undefined;
        if (this.live && this.queue.length > 0) this.requestAck();
      }, this.options.ackAfterSeconds * 1000);
      this.ackTimer.unref();
    }
  }

  requestAck(): void {
    this.lastRequested = this.outbound;
    this.stream.send(x("r", { xmlns: NS_SM }));
  }

  /** <a h/> from the client: `upTo` checked by the caller. */
  acknowledged(upTo: number): void {
    if (upTo <= this.acked) return;
    this.acked = upTo;
    let drop = 0;
    while (drop < this.queue.length && this.queue[drop]!.seq <= upTo) this.unpin(this.queue[drop++]!);
    this.queue.splice(0, drop);
    if (this.queue.length === 0) {
      clearTimeout(this.ackTimer);
      this.ackTimer = undefined;
    }
    // the store hears of it with the next sync (the bus ids of what it never had, see sync())
    if (this.durable && this.unsaved.length > 0) this.syncs?.mark(this);
    if (this.queue.length === 0) for (const wake of this.ackWaiters.splice(0)) wake();
  }

  /** Resolves when the client acknowledged everything, or after `ms`. */
  allAcknowledged(ms: number): Promise<void> {
    if (this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      timer.unref();
      this.ackWaiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /** Answers an <r/> with `handled` once `safe` resolved, after the answers before it. */
  answerLater(safe: Promise<void>, handled: number): void {
    this.awaitingAnswer++;
    const before = this.answering;
    this.answering = Promise.all([safe, before]).then(() => {
      this.awaitingAnswer--;
      if (this.live && this.stream.state === "bound") this.stream.send(this.answer(handled));
    });
  }

  /** <a h/> answering the client's <r/>: stanzas handled so far. */
  answer(handled = this.inbound): Element {
    return x("a", { xmlns: NS_SM, h: toWire(handled) });
  }

  stop(): void {
    this.live = false;
    if (this.syncs?.senders.get(this.session.jid.full) === this) this.syncs.senders.delete(this.session.jid.full);
    clearTimeout(this.ackTimer);
    this.ackTimer = undefined;
    for (const wake of this.ackWaiters.splice(0)) wake();
  }
}

function toQueued(p: Pending): QueuedStanza {
  const q: QueuedStanza = { seq: p.seq, xml: (p.xml ??= p.el.toString()), at: p.at };
  if (p.bid) q.bid = p.bid;
  return q;
}
