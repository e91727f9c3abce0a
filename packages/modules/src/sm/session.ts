/**
 * One stream-managed session on this node (XEP-0198 §3–§4): its counters, the stanzas the client
 * has not acknowledged, the acks it asks for and answers. Node-local and rebuilt on resumption;
 * what must outlive the edge is written to the resumption store:
 *
 * - with a durable store (the cluster's Redis), stanzas for the client are written to the socket
 *   at once; they, the client's acknowledgements and its handled count reach the store in one
 *   call per session per sync (sync.ts: no Redis round trip per stanza), before this node
 *   confirms them to their senders and before an <a/> counts them, so what a sender was told is
 *   handled survives a kill -9 here;
 * - with the embedded store everything is saved when the stream goes away.
 */
import { x, type Element } from "@switchboard/xml";
import { SEEN_MS, busIdOf, type Host, type Logger, type QueuedStanza, type ResumptionOwner, type Session, type StreamElementContext } from "@switchboard/core";
import { NS_SM, toWire } from "./counters.js";
import type { SmOptions } from "./options.js";
import type { SmSync } from "./sync.js";

export interface Pending {
  seq: number;
  el: Element;
  at: number;
  /** serialized once it went to the store */
  xml?: string;
  /** bus id, when it came over the bus */
  bid?: string;
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
  /** written, not in the store yet (durable store only) */
  private unsaved: Pending[] = [];
  /** an acknowledgement the store has not had yet */
  private ackedUnsaved: number | undefined;
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
    this.lastRequested = this.acked;
    this.resumeSeconds = options.resumeTimeoutSeconds;
    this.holding = start.holding ?? false;
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

  /** The store gets what it does not have yet, in one call (SmSync decides when). */
  async sync(): Promise<void> {
    if (!this.live || !this.durable) return;
    const batch = this.unsaved;
    const acked = this.ackedUnsaved;
    const inbound = this.inbound;
    if (batch.length === 0 && acked === undefined && inbound <= this.savedInbound) return;
    this.unsaved = [];
    this.ackedUnsaved = undefined;
    let owned = true;
    try {
      owned = await this.host.resumption.append(this.id!, this.owner, batch.map(toQueued), inbound, acked);
      this.savedInbound = Math.max(this.savedInbound, inbound);
    } catch (err) {
      // Redis away: the stanzas stay in memory and are saved with the session if its stream
      // goes away while this process lives.
      this.log.warn({ err, jid: this.session.jid.full }, "stream management: could not save written stanzas");
      this.unsavedAfterFailure.push(...batch);
    }
    if (!owned) {
      // Resumed elsewhere meanwhile: the new holder's queue does not have these; route them to it.
      for (const p of batch) await this.host.router.route(p.el).catch(() => {});
    }
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

  /** What a detach must still save: what the store does not have (everything, if not durable). */
  takeUnsaved(): QueuedStanza[] {
    const all = this.durable ? [...this.unsavedAfterFailure, ...this.unsaved] : [...this.queue];
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
    while (drop < this.queue.length && this.queue[drop]!.seq <= upTo) drop++;
    this.queue.splice(0, drop);
    if (this.queue.length === 0) {
      clearTimeout(this.ackTimer);
      this.ackTimer = undefined;
    }
    if (this.durable) {
      // with the next sync (an acknowledgement the store misses only costs a copy on resumption)
      this.ackedUnsaved = upTo;
      this.syncs?.mark(this);
    }
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

  /** <a h/> answering the client's <r/>: stanzas handled so far. */
  answer(handled = this.inbound): Element {
    return x("a", { xmlns: NS_SM, h: toWire(handled) });
  }

  stop(): void {
    this.live = false;
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
