/**
 * limits.maxConcurrentHandshakes: the CPU work in flight on this process's client ports — TLS
 * handshakes (direct TLS and STARTTLS) and SASL steps — is bounded, so a reconnect storm (every
 * client of a restarted edge at once, ejabberd#3780's SCRAM flood) is worked through at the
 * speed the machine can go instead of starving the event loop, the sessions already online and
 * the liveness heartbeat.
 *
 * admission.ts bounds descriptors (sockets not yet authenticated); this bounds work. Past the
 * cap new work waits in one FIFO: the connection is not read and its TLS not started until it is
 * granted a slot, in arrival order, so nobody is dropped at random and nobody is overtaken.
 *
 * - A slot is held only while the server has work to do: a TLS handshake from the moment it
 *   starts to its end (at most HOLD_MS: past that its CPU part is long done and the rest is the
 *   peer's round trip, which must not let a slow or hostile client sit on a slot), a SASL step
 *   from the client's message to our answer (never while we wait for its next message).
 * - The queue needs no cap of its own for sockets — every waiter is an unauthenticated connection,
 *   so limits.maxUnauthenticated bounds it — but takes one (`maxQueued`) so that the class keeps
 *   its bound whoever uses it; a request over it is refused (the caller says so to the client).
 * - A wait is bounded by the time limits the connection is already under: limits.tlsHandshakeSeconds
 *   for TLS, limits.handshakeTimeoutSeconds for SASL. A connection that closes while it waits
 *   leaves the queue (cancel), so a slot never goes to a socket that is gone.
 * - 0 turns the cap off (work is still counted for the gauge).
 */
import { noopMetrics, type Logger, type Metrics } from "@switchboard/core";

/** Gives the slot back; calling it again does nothing. */
export type Release = () => void;

/** What a slot is for, in metrics and logs. */
export type HandshakeWork = "tls" | "sasl";

/** A slot is given back after this long even if the work has not ended (file comment). */
export const HOLD_MS = 2_000;

/** How often a burst of waits is logged at most (one line per burst, with the count). */
const LOG_INTERVAL_MS = 10_000;

interface Waiter {
  work: HandshakeWork;
  grant: (release: Release) => void;
  since: number;
}

export class HandshakeSlots {
  readonly counters = { granted: 0, waited: 0, refused: 0 };
  private held = 0;
  /** insertion-ordered: the FIFO, with O(1) removal of a waiter that left */
  private readonly waiting = new Set<Waiter>();
  private readonly bursts = { waited: { lastLog: -Infinity, unlogged: 0 }, refused: { lastLog: -Infinity, unlogged: 0 } };
  private readonly waitedMetric: { add(n?: number, labels?: Record<string, string>): void };
  private readonly refusedMetric: { add(n?: number, labels?: Record<string, string>): void };
  private readonly waitSeconds: { record(seconds: number, labels?: Record<string, string>): void };

  constructor(
    /** limits.maxConcurrentHandshakes; 0: no cap */
    private readonly limit: number,
    private readonly log: Logger,
    metrics: Metrics = noopMetrics,
    private readonly maxQueued = Infinity,
    private readonly now: () => number = Date.now,
  ) {
    metrics.observe("switchboard_handshakes_in_flight", { help: "TLS handshakes and SASL steps being worked on now (limits.maxConcurrentHandshakes)" }, () => [[this.held]]);
    metrics.observe("switchboard_handshakes_waiting", { help: "TLS handshakes and SASL steps waiting for a slot (limits.maxConcurrentHandshakes)" }, () => [[this.waiting.size]]);
    this.waitedMetric = metrics.counter("switchboard_handshakes_waited_total", { help: "TLS handshakes and SASL steps that waited for a slot, by kind", labels: ["work"] });
    this.refusedMetric = metrics.counter("switchboard_handshakes_refused_total", { help: "TLS handshakes and SASL steps refused because the wait queue was full, by kind", labels: ["work"] });
    this.waitSeconds = metrics.histogram("switchboard_handshake_wait_seconds", { help: "How long TLS handshakes and SASL steps waited for a slot, by kind", labels: ["work"], buckets: [0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30] });
  }

  /** Work holding a slot now. */
  get inFlight(): number {
    return this.held;
  }

  /** Work waiting for a slot now. */
  get queued(): number {
    return this.waiting.size;
  }

  /**
   * Asks for a slot: `grant` is called with the slot's release once one is free — at once (in
   * this call) when one is. Returns a cancel function that takes the request out of the queue
   * if it is still waiting (a granted slot is given back by its release, not by cancel), or
   * undefined when the queue is full: the request was refused and `grant` will not be called.
   */
  request(work: HandshakeWork, grant: (release: Release) => void): (() => void) | undefined {
    if (this.limit === 0 || (this.held < this.limit && this.waiting.size === 0)) {
      grant(this.take());
      return noop;
    }
    if (this.waiting.size >= this.maxQueued) {
      this.counters.refused++;
      this.refusedMetric.add(1, { work });
      this.note("refused", "handshake wait queue full: new TLS and SASL work is refused");
      return undefined;
    }
    const waiter: Waiter = { work, grant, since: this.now() };
    this.waiting.add(waiter);
    this.counters.waited++;
    this.waitedMetric.add(1, { work });
    this.note("waited", "handshakes at their cap: new TLS and SASL work waits its turn");
    return () => void this.waiting.delete(waiter);
  }

  /** request() as a promise; resolves undefined when refused (queue full). Not cancellable. */
  acquire(work: HandshakeWork): Promise<Release | undefined> {
    return new Promise((resolve) => {
      if (!this.request(work, resolve)) resolve(undefined);
    });
  }

  private take(): Release {
    this.held++;
    this.counters.granted++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.held--;
      this.next();
    };
  }

  private next(): void {
    while (this.held < this.limit && this.waiting.size > 0) {
      const first = this.waiting.values().next().value!;
      this.waiting.delete(first);
      this.waitSeconds.record((this.now() - first.since) / 1000, { work: first.work });
      first.grant(this.take());
    }
  }

  /** One log line per burst and kind, with how many met the cap since the last one. */
  private note(kind: "waited" | "refused", message: string): void {
    const burst = this.bursts[kind];
    burst.unlogged++;
    const t = this.now();
    if (t - burst.lastLog < LOG_INTERVAL_MS) return;
    burst.lastLog = t;
    const line = { limit: "limits.maxConcurrentHandshakes", value: this.limit, [kind]: burst.unlogged, inFlight: this.held, waiting: this.waiting.size };
    if (kind === "refused") this.log.warn(line, message);
    else this.log.info(line, message);
    burst.unlogged = 0;
  }
}

function noop(): void {}

/** Holds `release` until `done` is called or HOLD_MS passed, whichever is first; returns `done`. */
export function holdAtMost(release: Release, ms = HOLD_MS): Release {
  const timer = setTimeout(release, ms);
  timer.unref();
  return () => {
    clearTimeout(timer);
    release();
  };
}
