/**
 * limits.loginsPerSecond: a login budget for the whole cluster, so that a reconnect storm (every
 * client of a restarted edge, or of all of them, at once: ejabberd#4509's thundering herd) is
 * paced to what Redis and the contacts' edges can absorb instead of hitting them all at once.
 *
 * - One cluster-scoped policy on the limits port, `c2s.logins`, keyed by the served domain: in a
 *   cluster the leased limiter takes tokens from one Redis bucket a lease at a time (a tenth of
 *   the bucket), so a login costs no Redis round trip; one process counts on its own (embedded).
 *   The bucket holds one second's worth: a quiet cluster admits a burst of that size at once.
 * - A login is one SASL exchange, counted at its `<auth/>` before any work is spent on it (no
 *   account lookup, no handshake slot) — a wrong password costs as much as a right one.
 * - Over the budget a login waits, in arrival order (one FIFO per process, so nobody is overtaken
 *   by a luckier timer), at most MAX_WAIT_MS; the answer to its `<auth/>` is just delayed. A
 *   login that would not be served within that bound anyway (more ahead of it than the budget
 *   admits in MAX_WAIT_MS), or that is still over the budget at its end, is told to come back:
 *   SASL `<temporary-auth-failure/>` (RFC 6120 §6.5.12, "the client may try again later") with a
 *   `<text/>` that says in how many seconds. The hint grows with the client's place in the queue
 *   (what is ahead of it divided by the rate), so a herd that comes back does not come back all
 *   in the same second. Refusing at once what cannot be served in time keeps a client from
 *   waiting for an answer it could have had straight away, and its descriptor from being held.
 * - Why the SASL failure rather than a stream error (`<resource-constraint/>`,
 *   `<see-other-host/>`): deployed clients read `<temporary-auth-failure/>` as "not your
 *   password, retry" — Siskin/Tigase and StanzaJS's reconnector retry on it, without asking the
 *   user for a password or disabling the account — whereas a stream error ends the stream: the
 *   client must connect again (TCP, TLS: the very work a storm is short of) after a backoff of
 *   its own choosing. The stream stays open (RFC 6120 §6.4.5 allows retries on it), as for the
 *   other temporary refusals in sasl-negotiation.ts.
 * - Every wait and every refusal is counted (`switchboard_login_budget_total{outcome}`), and each
 *   burst of refusals is one log line with its count (at most one per LOG_INTERVAL_MS); the
 *   limits port also reports the policy's first refusal (`switchboard_limit_refusals_total`).
 */
import { retryHint, type Host } from "@switchboard/core";

export const LOGIN_BUDGET_POLICY = "c2s.logins";

/** How long a login waits for the budget before it is told to come back. */
export const MAX_WAIT_MS = 2_000;

/** How often a burst of refusals is logged at most. */
const LOG_INTERVAL_MS = 10_000;

/** Longest sleep between two looks at the bucket while logins wait. */
const MAX_SLEEP_MS = 250;

/** What admit() tells the caller: go on, or come back after retryAfterMs. */
export type LoginAdmission = { allowed: true } | { allowed: false; retryAfterMs: number; text: string };

interface Waiter {
  deadline: number;
  /** the stream went meanwhile: skip it, spend nothing (resolved allowed; the caller sees it closed) */
  gone: () => boolean;
  resolve: (admission: LoginAdmission) => void;
}

const ALLOWED: LoginAdmission = { allowed: true };

export class LoginBudget {
  readonly counters = { immediate: 0, waited: 0, refused: 0 };
  private readonly queue: Waiter[] = [];
  private timer?: NodeJS.Timeout;
  private lastLog = -Infinity;
  private unlogged = 0;
  private readonly outcomes: { add(n?: number, labels?: Record<string, string>): void };

  constructor(
    private readonly host: Host,
    /** limits.loginsPerSecond (> 0) */
    private readonly perSecond: number,
    private readonly maxWaitMs = MAX_WAIT_MS,
    private readonly now: () => number = Date.now,
  ) {
    host.rateLimits.define(LOGIN_BUDGET_POLICY, { limit: perSecond, intervalMs: 1_000, keyedBy: "domain", scope: "cluster" });
    this.outcomes = host.metrics.counter("switchboard_login_budget_total", {
      help: "Logins that met limits.loginsPerSecond: waited (then went on), refused (told to retry)",
      labels: ["outcome"],
    });
  }

  /** Logins waiting for the budget now. */
  get waiting(): number {
    return this.queue.length;
  }

  /**
   * Undefined: the login goes on at once (the common case, no promise made). Otherwise a promise
   * of the answer once the budget had room, or MAX_WAIT_MS passed. `gone` says the stream
   * closed while it waited.
   */
  admit(gone: () => boolean): Promise<LoginAdmission> | undefined {
    if (this.queue.length === 0) {
      const decision = this.host.rateLimits.check(LOGIN_BUDGET_POLICY, this.host.domain);
      if (decision.allowed) {
        this.counters.immediate++;
        return undefined;
      }
      this.schedule(decision.retryAfterMs);
    }
    // Served within the bound only if the budget admits everyone ahead of it in that time.
    if (((this.queue.length + 1) / this.perSecond) * 1_000 > this.maxWaitMs) return Promise.resolve(this.refusal());
    this.counters.waited++;
    return new Promise((resolve) => this.queue.push({ deadline: this.now() + this.maxWaitMs, gone, resolve }));
  }

  private schedule(retryAfterMs: number): void {
    if (this.timer) return;
    const ms = Math.min(MAX_SLEEP_MS, Math.max(5, Number.isFinite(retryAfterMs) ? retryAfterMs : MAX_SLEEP_MS));
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.pump();
    }, ms);
    this.timer.unref();
  }

  /** Serves the queue head first while the bucket has tokens; refuses whoever waited too long. */
  private pump(): void {
    let retryAfterMs = 0;
    while (this.queue.length > 0) {
      const head = this.queue[0]!;
      if (head.gone()) {
        this.queue.shift();
        head.resolve(ALLOWED); // nothing spent: the caller finds its stream closed
        continue;
      }
      // the refusal was reported once (admit); looking again is not another refusal
      const decision = this.host.limiter.hit(LOGIN_BUDGET_POLICY, this.host.domain);
      if (decision.allowed) {
        this.queue.shift();
        this.outcomes.add(1, { outcome: "waited" });
        head.resolve(ALLOWED);
        continue;
      }
      retryAfterMs = decision.retryAfterMs;
      break;
    }
    this.refuseExpired();
    if (this.queue.length > 0) this.schedule(retryAfterMs);
  }

  /** Deadlines are in queue order (one wait bound for all): the expired ones are at the front. */
  private refuseExpired(): void {
    const t = this.now();
    while (this.queue.length > 0 && this.queue[0]!.deadline <= t) {
      const waiter = this.queue.shift()!;
      if (waiter.gone()) {
        waiter.resolve(ALLOWED); // as in pump(): the caller finds its stream closed
        continue;
      }
      waiter.resolve(this.refusal());
    }
  }

  private refusal(): LoginAdmission {
    this.counters.refused++;
    this.outcomes.add(1, { outcome: "refused" });
    const retryAfterMs = this.retryAfter();
    this.logBurst(retryAfterMs);
    return { allowed: false, retryAfterMs, text: `the server is busy with a wave of logins; ${retryHint(retryAfterMs)}` };
  }

  private logBurst(retryAfterMs: number): void {
    this.unlogged++;
    const t = this.now();
    if (t - this.lastLog < LOG_INTERVAL_MS) return;
    this.lastLog = t;
    this.host.log.warn(
      { limit: "limits.loginsPerSecond", value: this.perSecond, refused: this.unlogged, waiting: this.queue.length, retryAfterMs },
      "login budget exceeded: logins are told to retry later (<temporary-auth-failure/>)",
    );
    this.unlogged = 0;
  }

  /**
   * When the budget could have room for this client: what is still queued ahead of the ones
   * refused now, at the budget's rate, at least a second, plus up to half again at random so the
   * clients told at once spread out.
   */
  private retryAfter(): number {
    const base = Math.max(1_000, Math.ceil((this.queue.length / this.perSecond) * 1_000));
    return Math.ceil(base * (1 + Math.random() / 2) / 1_000) * 1_000;
  }
}
