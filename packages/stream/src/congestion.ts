/**
 * Slow receivers (ARCHITECTURE.md "Abuse and overload limits"): how full a connection's outbound
 * queue is, in bytes, and what that means. The engine asks after every write; the reaction —
 * coalescing presence, diverting messages to offline storage — belongs to the session's outgoing
 * path (modules/congestion), which reads `congested` and hears the changes.
 *
 *   clear ──queue past the high-water mark──▶ congested ──queue under half of it──▶ clear
 *                                                 │
 *                                                 └──no byte left the queue for timeoutMs──▶ stalled (closed)
 *
 * - The high-water mark is `limits.outboundBufferBytes`; crossing it is not an error. Half of it
 *   is the low-water mark, so a client reading near the mark does not flap.
 * - Progress is bytes leaving the queue for the kernel (what was written minus what is still
 *   buffered): a client that reads slowly but reads keeps its connection however long the
 *   episode lasts; only one that took nothing for `limits.congestionTimeoutSeconds` is stalled.
 * - A queue past `HARD_CAP_FACTOR` times the mark refuses writes (the caller falls back) without
 *   closing: what is still written while congested (IQs, errors, groupchat) cannot grow memory
 *   without bound either.
 * - While congested a timer looks at the queue every `POLL_MS` (the transports have no event for
 *   "under half": Node's 'drain' only fires at empty); clear connections run no timer.
 */

/** Writes are refused once the queue holds this many times the high-water mark. */
export const HARD_CAP_FACTOR = 4;
/** How often a congested connection's queue is looked at. */
export const POLL_MS = 50;

export type CongestionChange = "congested" | "relieved" | "stalled";

export interface CongestionInput {
  /** bytes accepted for writing, not yet handed to the kernel */
  bufferedBytes(): number;
  /** bytes written so far (grows with every write) */
  writtenBytes(): number;
}

export class CongestionWatch {
  private congested_ = false;
  private timer?: NodeJS.Timeout;
  /** bytes that had left the queue at the last progress seen */
  private drained = 0;
  private lastProgress = 0;
  /** epoch ms the current episode began (for the log) */
  since = 0;

  constructor(
    private readonly input: CongestionInput,
    private readonly highWaterBytes: number,
    private readonly timeoutMs: number,
    private readonly onChange: (change: CongestionChange) => void,
  ) {}

  get congested(): boolean {
    return this.congested_;
  }

  /** A write past the hard cap is refused (the queue is this far past the mark). */
  get full(): boolean {
    return this.input.bufferedBytes() > this.highWaterBytes * HARD_CAP_FACTOR;
  }

  /** After a write: enters congestion when the queue crossed the high-water mark. */
  wrote(): void {
    if (this.congested_ || this.input.bufferedBytes() <= this.highWaterBytes) return;
    this.congested_ = true;
    this.since = this.lastProgress = Date.now();
    this.drained = this.input.writtenBytes() - this.input.bufferedBytes();
    this.timer = setInterval(() => this.check(), POLL_MS);
    this.timer.unref();
    this.onChange("congested");
  }

  /** The connection is gone: no more checks. */
  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.congested_ = false;
  }

  /** @internal one look at the queue (the timer's; tests call it directly) */
  check(now = Date.now()): void {
    if (!this.congested_) return;
    const buffered = this.input.bufferedBytes();
    const drained = this.input.writtenBytes() - buffered;
    if (drained > this.drained) {
      this.drained = drained;
      this.lastProgress = now;
    }
    if (buffered <= this.highWaterBytes / 2) {
      this.stop();
      this.onChange("relieved");
    } else if (now - this.lastProgress >= this.timeoutMs) {
      this.stop();
      this.onChange("stalled");
    }
  }
}
