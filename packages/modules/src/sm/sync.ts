/**
 * How stream management's state reaches a durable resumption store (the cluster's Redis) without
 * a Redis call per stanza: every session with something new — stanzas written to its client
 * and not acknowledged yet, stanzas it sent that were handled — is marked dirty, and dirty
 * sessions are synced together, one store call per session for what must be stored by then
 * (session.ts says what may wait):
 *
 * - before this node confirms to other nodes what it handled of theirs (`bus/before-receipts`,
 *   every 200 ms): a sender keeps a stanza until then (longer for one pinned, see session.ts),
 *   so one that reached a client here but not the store yet is routed again if this node dies;
 * - within SOON_MS when an <r/> from a client waits for its <a/> (the answer may only count what
 *   survives a kill -9 here, including what its stanzas became for local stream-managed
 *   recipients), together with one bus flush for all of them. The client's stream is read on
 *   meanwhile (protocol.ts), so the window costs acks latency, not throughput: a wider one
 *   shares each call among more <r/> and gives recipients time to acknowledge first (one
 *   repetition each on 2 edges, same session: 10 ms 0.69× of the chat throughput without
 *   stream management, 50 ms 0.77×; docs/benchmarks.md);
 * - at the latest MAX_DELAY_MS after a session became dirty.
 */
import type { SmSession } from "./session.js";

const SOON_MS = 50;
const MAX_DELAY_MS = 200;

export class SmSync {
  private readonly dirty = new Set<SmSession>();
  private readonly inFlight = new Set<Promise<void>>();
  private soonTimer: NodeJS.Timeout | undefined;
  private soonWaiters: Array<() => void> = [];
  private lateTimer: NodeJS.Timeout | undefined;
  /** this node's stream-managed sessions on a durable store, by full JID (Pending.sender) */
  readonly senders = new Map<string, SmSession>();

  constructor(private readonly flushBus?: () => Promise<void>) {}

  /** `sm` has something the store does not. */
  mark(sm: SmSession): void {
    this.dirty.add(sm);
    if (!this.lateTimer) {
      this.lateTimer = setTimeout(() => void this.now(), MAX_DELAY_MS);
      this.lateTimer.unref();
    }
  }

  /** Syncs every dirty session now; resolves once those calls and the earlier ones finished. */
  now(): Promise<void> {
    clearTimeout(this.lateTimer);
    this.lateTimer = undefined;
    const batch = [...this.dirty];
    this.dirty.clear();
    for (const sm of batch) this.track(sm.sync());
    return this.settled();
  }

  /**
   * Resolves after a sync and a bus flush started within SOON_MS, shared by everyone asking
   * meanwhile: what an <a/> counts is then in the store and at the bus server.
   */
  soon(): Promise<void> {
    const done = new Promise<void>((resolve) => this.soonWaiters.push(resolve));
    if (!this.soonTimer) {
      this.soonTimer = setTimeout(() => {
        this.soonTimer = undefined;
        const waiters = this.soonWaiters.splice(0);
        void Promise.all([this.now(), this.flushBus?.().catch(() => {})]).then(() => {
          for (const wake of waiters) wake();
        });
      }, SOON_MS);
    }
    return done;
  }

  /** Resolves when every sync started so far has finished (or failed). */
  settled(): Promise<void> {
    if (this.inFlight.size === 0) return Promise.resolve();
    return Promise.allSettled([...this.inFlight]).then(() => undefined);
  }

  private track(p: Promise<void>): void {
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p));
  }

  stop(): void {
    clearTimeout(this.lateTimer);
    clearTimeout(this.soonTimer);
    for (const wake of this.soonWaiters.splice(0)) wake();
  }
}
