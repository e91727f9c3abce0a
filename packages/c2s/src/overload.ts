/**
 * Load shedding for the whole process: while the event loop lags, every client stream stops
 * being read. Work already taken in drains, and the timers that keep the node alive in a cluster
 * (liveness heartbeats, IQ timeouts) get their turn instead of queueing behind an unbounded
 * backlog. TCP flow control then pushes back on the senders; nothing accepted is dropped.
 */
import type { Logger } from "@switchboard/core";

export interface Pausable {
  pauseReading(reason: "overload"): void;
  resumeReading(reason: "overload"): void;
}

export interface OverloadOptions {
  /** how often the loop is sampled */
  sampleMs?: number;
  /** lag that starts shedding */
  pauseAboveMs?: number;
  /** lag under which reading resumes */
  resumeBelowMs?: number;
}

export class OverloadGuard {
  readonly counters = { pauses: 0 };
  private timer?: NodeJS.Timeout;
  private expected = 0;
  private shedding = false;
  private readonly sampleMs: number;
  private readonly pauseAboveMs: number;
  private readonly resumeBelowMs: number;

  constructor(
    private readonly streams: () => Iterable<Pausable>,
    private readonly log: Logger,
    opts: OverloadOptions = {},
    private readonly now: () => number = () => performance.now(),
  ) {
    this.sampleMs = opts.sampleMs ?? 50;
    this.pauseAboveMs = opts.pauseAboveMs ?? 250;
    this.resumeBelowMs = opts.resumeBelowMs ?? 50;
  }

  /** told when shedding starts (true) and stops (false), e.g. for a metric */
  onChange?: (shedding: boolean) => void;

  get overloaded(): boolean {
    return this.shedding;
  }

  start(): void {
    this.expected = this.now() + this.sampleMs;
    this.timer = setInterval(() => this.sample(), this.sampleMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    if (this.shedding) this.setShedding(false, 0);
  }

  /** One sample: how late this tick came is the event loop's lag. Public for tests. */
  sample(): void {
    const t = this.now();
    const lag = Math.max(0, t - this.expected);
    this.expected = t + this.sampleMs;
    if (!this.shedding && lag > this.pauseAboveMs) this.setShedding(true, lag);
    else if (this.shedding && lag < this.resumeBelowMs) this.setShedding(false, lag);
  }

  private setShedding(on: boolean, lag: number): void {
    this.shedding = on;
    this.onChange?.(on);
    if (on) {
      this.counters.pauses++;
      this.log.warn({ lagMs: Math.round(lag) }, "event loop overloaded: pausing reads from clients");
    } else this.log.info({ lagMs: Math.round(lag) }, "event loop recovered: resuming reads from clients");
    for (const s of this.streams()) {
      if (on) s.pauseReading("overload");
      else s.resumeReading("overload");
    }
  }
}
