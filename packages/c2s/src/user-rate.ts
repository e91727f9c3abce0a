/**
 * Per-user rate limits, cluster-wide (issue 12 item 1): stanzas and bytes per second per bare
 * JID, every session of the user on every edge counted together.
 *
 * - Two cluster-scoped policies on the limits port: `c2s.user-stanzas`
 *   (limits.userStanzasPerSecond, bucket limits.userStanzaBurst) and `c2s.user-bytes`
 *   (limits.userBytesPerSecond, a bucket of one second's worth and at least one stanza of
 *   limits.maxStanzaBytes). In a cluster the limiter takes leases of tokens from a Redis bucket
 *   (RedisLeasedLimiter), so a decision is local and synchronous: no Redis round trip and no bus
 *   message per stanza.
 * - Each stream pays from a small credit taken from the buckets a chunk at a time (RateCredit),
 *   so a stanza within the rate costs two subtractions, not two limiter calls.
 * - A stanza over the rate is not refused: it waits. Reading from that stream pauses (the
 *   engine's "rate" pause reason, so TCP pushes back on the sender) until the bucket has tokens
 *   again, then the stanza goes on. Nothing the user sent is lost.
 * - A user who stays over the rate — every wait following the previous within a quiet spell —
 *   for limits.floodSeconds is flooding: each of their waiting streams on this node is closed with
 *   `<policy-violation/>` (the stanza it held is answered with an error, not dropped) and a
 *   `user-flood` alert is raised. The quiet spell is 2 s, or two lease refills when the policy is
 *   slower (leases arrive in chunks: a flood between chunks is still one flood).
 */
import type { Host } from "@switchboard/core";

export const USER_STANZAS_POLICY = "c2s.user-stanzas";
export const USER_BYTES_POLICY = "c2s.user-bytes";

export interface UserRateOptions {
  /** limits.userStanzasPerSecond; 0 turns the stanza rate off */
  stanzasPerSecond: number;
  /** limits.userStanzaBurst */
  stanzaBurst: number;
  /** limits.userBytesPerSecond; 0 turns the byte rate off */
  bytesPerSecond: number;
  /** the byte bucket's capacity (at least one stanza of the largest size allowed) */
  byteBurst: number;
  /** limits.floodSeconds, in ms */
  floodMs: number;
}

/** What the limits need of a stream: pausing its reads, and whether it is still open. */
export interface RateLimitedStream {
  pauseReading(reason: "rate"): void;
  resumeReading(reason: "rate"): void;
  readonly state: string;
}

interface Check {
  policy: string;
  /** the bucket's capacity */
  burst: number;
  /** tokens taken at once when a stream's credit runs out (a twentieth of the bucket) */
  chunk: number;
  /** what one stanza of `bytes` costs (0: not counted) */
  cost(bytes: number): number;
  /** the stream's credit for this policy */
  credit: "stanzas" | "bytes";
}

/**
 * Tokens a stream took from its user's buckets and has not spent yet. Stanzas are paid from it
 * (two subtractions, no limiter call); when it runs out the stream takes the next chunk, a
 * twentieth of the bucket. Tokens are taken before they are spent, so the user's rate never
 * exceeds the bucket's; a stream that goes quiet leaves at most one chunk unspent.
 */
export class RateCredit {
  stanzas = 0;
  bytes = 0;
}

interface FloodSpell {
  /** the first wait of the spell */
  since: number;
  /** the latest wait */
  last: number;
}

/** Longest sleep between two looks at the bucket (a stream closed meanwhile stops waiting). */
const MAX_SLEEP_MS = 1_000;
const MIN_QUIET_MS = 2_000;

export class UserRate {
  private readonly checks: Check[] = [];
  private readonly spells = new Map<string, FloodSpell>();
  private readonly quietMs: number;

  constructor(
    private readonly host: Host,
    private readonly opts: UserRateOptions,
    private readonly now: () => number = Date.now,
  ) {
    let quiet = MIN_QUIET_MS;
    const define = (policy: string, perSecond: number, burst: number, credit: Check["credit"], cost: (bytes: number) => number) => {
      host.rateLimits.define(policy, { limit: perSecond, intervalMs: 1_000, burst, keyedBy: "bare", scope: "cluster" });
      this.checks.push({ policy, burst, chunk: Math.max(1, Math.floor(burst / 20)), cost, credit });
      // a lease is a tenth of the bucket (leased-limiter.ts): two of them refilled
      quiet = Math.max(quiet, Math.ceil((2 * Math.ceil(burst / 10) * 1_000) / perSecond));
    };
    if (opts.stanzasPerSecond > 0) define(USER_STANZAS_POLICY, opts.stanzasPerSecond, Math.max(1, opts.stanzaBurst), "stanzas", () => 1);
    if (opts.bytesPerSecond > 0) {
      const burst = Math.max(opts.bytesPerSecond, opts.byteBurst);
      define(USER_BYTES_POLICY, opts.bytesPerSecond, burst, "bytes", (bytes) => Math.min(bytes, burst));
    }
    this.quietMs = quiet;
  }

  get enabled(): boolean {
    return this.checks.length > 0;
  }

  /** A stream's credit; a rate that is off is an endless one. */
  credit(): RateCredit {
    const credit = new RateCredit();
    if (!this.checks.some((c) => c.credit === "stanzas")) credit.stanzas = Infinity;
    if (!this.checks.some((c) => c.credit === "bytes")) credit.bytes = Infinity;
    return credit;
  }

  /**
   * Pays what a stanza of `bytes` costs `bare` from the stream's credit, taking more from the
   * user's buckets when it runs out. Undefined: go on now (the common case, no promise made). A
   * promise: the stanza waits, reading paused; it resolves true when the stanza may go on, false
   * when the user is flooding (the caller closes the stream) or the stream closed meanwhile.
   */
  admit(stream: RateLimitedStream, bare: string, bytes: number, credit: RateCredit): Promise<boolean> | undefined {
    if (credit.stanzas >= 1 && credit.bytes >= bytes) {
      credit.stanzas--;
      credit.bytes -= bytes;
      return undefined;
    }
    return this.admitFrom(0, stream, bare, bytes, credit);
  }

  private admitFrom(first: number, stream: RateLimitedStream, bare: string, bytes: number, credit: RateCredit): Promise<boolean> | undefined {
    for (let i = first; i < this.checks.length; i++) {
      const check = this.checks[i]!;
      const cost = check.cost(bytes);
      const missing = cost - credit[check.credit];
      if (missing > 0) {
        // a chunk when the bucket has it, else just what is missing (reported when refused)
        const chunk = Math.min(check.burst, Math.max(check.chunk, missing));
        if (chunk > missing && this.host.limiter.hit(check.policy, bare, chunk).allowed) credit[check.credit] += chunk;
        else {
          const decision = this.host.rateLimits.check(check.policy, bare, missing);
          if (!decision.allowed) return this.wait(i, stream, bare, bytes, credit, missing, decision.retryAfterMs);
          credit[check.credit] += missing;
        }
      }
      credit[check.credit] -= cost;
    }
    return undefined;
  }

  private async wait(index: number, stream: RateLimitedStream, bare: string, bytes: number, credit: RateCredit, missing: number, retryMs: number): Promise<boolean> {
    const check = this.checks[index]!;
    stream.pauseReading("rate");
    try {
      for (;;) {
        if (this.flooding(bare)) return false;
        await sleep(Math.min(MAX_SLEEP_MS, Math.max(5, Number.isFinite(retryMs) ? retryMs : MAX_SLEEP_MS)));
        if (stream.state === "closed") return false;
        // the refusal was reported once (the first); looking again is not another refusal
        const decision = this.host.limiter.hit(check.policy, bare, missing);
        if (decision.allowed) break;
        retryMs = decision.retryAfterMs;
      }
    } finally {
      stream.resumeReading("rate");
    }
    credit[check.credit] += missing - check.cost(bytes);
    return (await this.admitFrom(index + 1, stream, bare, bytes, credit)) ?? true;
  }

  /** Notes one more wait for `bare`; true once the spell has lasted limits.floodSeconds. */
  private flooding(bare: string): boolean {
    const t = this.now();
    let spell = this.spells.get(bare);
    if (!spell || t - spell.last > this.quietMs) {
      if (!spell && this.spells.size >= 10_000) this.forgetQuiet(t);
      this.spells.set(bare, (spell = { since: t, last: t }));
    }
    spell.last = t;
    if (t - spell.since < this.opts.floodMs) return false;
    this.host.alerts.raise({
      rule: "user-flood",
      subject: bare,
      message: `over the per-user rate (${this.describe()}) for ${Math.round((t - spell.since) / 1000)} s; disconnected`,
      measure: "throttled_seconds",
      value: Math.round((t - spell.since) / 1000),
      threshold: this.opts.floodMs / 1000,
    });
    return true;
  }

  /** "50 stanzas/s, 262144 bytes/s" for messages. */
  describe(): string {
    const parts: string[] = [];
    if (this.opts.stanzasPerSecond > 0) parts.push(`${this.opts.stanzasPerSecond} stanzas/s`);
    if (this.opts.bytesPerSecond > 0) parts.push(`${this.opts.bytesPerSecond} bytes/s`);
    return parts.join(", ");
  }

  private forgetQuiet(t: number): void {
    for (const [bare, spell] of this.spells) if (t - spell.last > this.quietMs) this.spells.delete(bare);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
