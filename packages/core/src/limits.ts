/**
 * The limits port (ARCHITECTURE.md "Limits and metrics as ports"): named token-bucket policies,
 * and decisions that say which policy refused, for which key, and when to try again.
 *
 * - `Limiter` is the port. MemoryLimiter (memory/limiter.ts) is the single node's adapter; the
 *   cluster's (@switchboard/redis RedisLeasedLimiter) takes leases of tokens from a bucket in
 *   Redis, so `hit()` stays synchronous and costs no Redis round trip per stanza.
 * - `RateLimits` is what callers use (`host.rateLimits`): it asks the limiter and makes every
 *   refusal a log line, a metric and a `limit/exceeded` event, so no caller has to remember to.
 * - `LimitExceededError` is the typed refusal, mapped to the XMPP condition its policy names.
 */
import { StanzaError, type StanzaErrorCondition } from "@switchboard/xml";
import type { CoreEvents } from "./events.js";
import type { HookBus } from "./hooks.js";
import type { Logger } from "./logger.js";
import type { Counter, Metrics } from "./metrics.js";

/** What a policy's keys are: a client address, a bare JID, a full JID, a MUC room or a served domain (a budget for all its users). */
export type LimitKeyKind = "ip" | "bare" | "full" | "room" | "domain";

export interface LimitPolicy {
  /** tokens put back per interval (the sustained rate) */
  limit: number;
  intervalMs: number;
  /** bucket capacity: how much may be spent at once after a quiet spell; default `limit` */
  burst?: number;
  /** what the key of a hit names (for operators and the admin tools; the limiter does not parse it) */
  keyedBy: LimitKeyKind;
  /**
   * "cluster": every node's hits count against one allowance per key. Meant for anything an
   * abuser must not multiply by the number of edges a balancer spreads them over (failed logins,
   * registrations, per-user rates). "node" (default): each node counts on its own.
   */
  scope?: "node" | "cluster";
  /** the stanza error a refusal maps to (LimitExceededError); default "policy-violation" */
  condition?: StanzaErrorCondition;
}

export interface LimitDecision {
  allowed: boolean;
  policy: string;
  key: string;
  /**
   * whole tokens left after this decision (Infinity for an unknown policy); for cluster-scoped
   * policies decided locally an estimate: this node's lease plus what the cluster had at its
   * last answer
   */
  remaining: number;
  /**
   * when asking again may succeed, in ms; 0 when allowed, Infinity when the cost is more than
   * the policy's burst and can never be allowed
   */
  retryAfterMs: number;
}

/**
 * Named policies and their token buckets. Every method answers; a limiter that lost its
 * backend decides locally rather than throw into a caller. Unknown policies allow (allowed true,
 * remaining Infinity), so a module can hit a policy an operator turned off by not defining it.
 *
 * A cost of 0 asks without taking: the decision says whether one more token would be granted.
 */
export interface Limiter {
  /** Defines or replaces a policy (its buckets start full again); throws LimitPolicyError when invalid. */
  define(name: string, policy: LimitPolicy): void;
  policy(name: string): LimitPolicy | undefined;
  /** Takes `cost` tokens for `key`. Synchronous, no I/O: for the hot path (every stanza). */
  hit(name: string, key: string, cost?: number): LimitDecision;
  /**
   * Takes `cost` tokens, exact across the cluster for cluster-scoped policies (it may wait for
   * the backend). For rare events that can wait a round trip: failed logins, registrations.
   */
  acquire(name: string, key: string, cost?: number): Promise<LimitDecision>;
  /** What a hit of one token would get now, taking nothing (local view; costs nothing). */
  peek(name: string, key: string): LimitDecision;
  /** Releases timers and subscriptions. */
  close(): void;
}

export class LimitPolicyError extends Error {
  override name = "LimitPolicyError";
  constructor(
    readonly policy: string,
    reason: string,
  ) {
    super(`limit policy ${policy}: ${reason}`);
  }
}

/** Checks a policy before a limiter accepts it; returns its bucket capacity. */
export function validatePolicy(name: string, policy: LimitPolicy): number {
  if (!(policy.limit > 0) || !Number.isFinite(policy.limit)) throw new LimitPolicyError(name, "limit must be a positive number");
  if (!(policy.intervalMs > 0) || !Number.isFinite(policy.intervalMs)) throw new LimitPolicyError(name, "intervalMs must be a positive number");
  const capacity = policy.burst ?? policy.limit;
  if (!(capacity >= 1) || !Number.isFinite(capacity)) throw new LimitPolicyError(name, "burst must be at least 1");
  return capacity;
}

/** The decision for a policy nobody defined: allowed, nothing counted. */
export function unlimited(policy: string, key: string): LimitDecision {
  return { allowed: true, policy, key, remaining: Infinity, retryAfterMs: 0 };
}

/** "try again in 12 s" (whole seconds rounded up, minutes past two), for <text/> and logs. */
export function retryHint(retryAfterMs: number): string {
  if (!Number.isFinite(retryAfterMs)) return "the request is larger than this limit ever allows";
  const seconds = Math.max(1, Math.ceil(retryAfterMs / 1000));
  return seconds < 120 ? `try again in ${seconds} s` : `try again in ${Math.ceil(seconds / 60)} min`;
}

/** A refusal by a limit policy, carrying what the refused party needs to know. */
export class LimitExceededError extends Error {
  override name = "LimitExceededError";
  readonly policy: string;
  readonly key: string;
  readonly retryAfterMs: number;
  readonly condition: StanzaErrorCondition;

  constructor(decision: LimitDecision, condition: StanzaErrorCondition = "policy-violation", options?: { cause?: unknown }) {
    super(`limit ${decision.policy} exceeded for ${decision.key}; ${retryHint(decision.retryAfterMs)}`, options);
    this.policy = decision.policy;
    this.key = decision.key;
    this.retryAfterMs = decision.retryAfterMs;
    this.condition = condition;
  }

  /**
   * The stanza error to answer with (RFC 6120 §8.3): the policy's condition with its default
   * type, and a text that ends with the retry hint ("too many registrations …; try again in 40 min").
   */
  toStanzaError(what = "rate limit exceeded"): StanzaError {
    return new StanzaError(this.condition, `${what}; ${retryHint(this.retryAfterMs)}`, undefined, { cause: this });
  }
}

export interface RateLimitsOptions {
  /** one log line per policy and key per this window (a flood is not a log flood); default 10 s */
  logWindowMs?: number;
  /** lines per policy per window at most (a spray over many keys); the rest are counted in the next line; default 50 */
  logLinesPerPolicy?: number;
  now?: () => number;
}

interface LogWindow {
  until: number;
  /** refusals not logged since the line that opened the window */
  unlogged: number;
}

/**
 * The facade callers use (`host.rateLimits`): decisions from the limiter, and on every refusal
 * (a) a log line at info naming policy, key and retry-after (at most one per policy and key per
 * window, carrying how many refusals it stands for), (b) `switchboard_limit_refusals_total`
 * {policy} on the metrics port, (c) the `limit/exceeded` core event.
 */
export class RateLimits {
  private readonly refusals: Counter;
  private readonly refusalsByPolicy = new Map<string, { add(n?: number): void }>();
  private readonly keyWindows = new Map<string, LogWindow>();
  private readonly policyWindows = new Map<string, { until: number; lines: number; unlogged: number }>();
  private readonly logWindowMs: number;
  private readonly logLinesPerPolicy: number;
  private readonly now: () => number;

  constructor(
    readonly limiter: Limiter,
    private readonly log: Logger,
    metrics: Metrics,
    private readonly hooks: HookBus<CoreEvents>,
    opts: RateLimitsOptions = {},
  ) {
    this.refusals = metrics.counter("switchboard_limit_refusals_total", { help: "Requests refused by a limit policy", labels: ["policy"] });
    this.logWindowMs = opts.logWindowMs ?? 10_000;
    this.logLinesPerPolicy = opts.logLinesPerPolicy ?? 50;
    this.now = opts.now ?? Date.now;
  }

  define(name: string, policy: LimitPolicy): void {
    this.limiter.define(name, policy);
  }

  /** Synchronous decision (Limiter.hit), reported when refused. */
  check(name: string, key: string, cost = 1): LimitDecision {
    const decision = this.limiter.hit(name, key, cost);
    if (!decision.allowed) this.report(decision);
    return decision;
  }

  /** Exact decision across the cluster (Limiter.acquire), reported when refused. */
  async checkAcquire(name: string, key: string, cost = 1): Promise<LimitDecision> {
    const decision = await this.limiter.acquire(name, key, cost);
    if (!decision.allowed) this.report(decision);
    return decision;
  }

  /** Like check(), but a refusal throws LimitExceededError with the policy's condition. */
  enforce(name: string, key: string, cost = 1): LimitDecision {
    const decision = this.check(name, key, cost);
    if (!decision.allowed) throw this.error(decision);
    return decision;
  }

  /** Like checkAcquire(), but a refusal rejects with LimitExceededError. */
  async enforceAcquire(name: string, key: string, cost = 1): Promise<LimitDecision> {
    const decision = await this.checkAcquire(name, key, cost);
    if (!decision.allowed) throw this.error(decision);
    return decision;
  }

  /** The typed error for a refusal, with the condition its policy maps to. */
  error(decision: LimitDecision): LimitExceededError {
    return new LimitExceededError(decision, this.limiter.policy(decision.policy)?.condition);
  }

  /**
   * A refusal decided by a cap rather than a bucket (sessions per user): reported like any
   * other (the log line, the refusals counter, `limit/exceeded` when the policy is defined).
   */
  refused(policy: string, key: string): void {
    this.report({ allowed: false, policy, key, remaining: 0, retryAfterMs: Infinity });
  }

  private report(decision: LimitDecision): void {
    let counter = this.refusalsByPolicy.get(decision.policy);
    if (!counter) this.refusalsByPolicy.set(decision.policy, (counter = this.refusals.with({ policy: decision.policy })));
    counter.add();
    this.logRefusal(decision);
    const policyDef = this.limiter.policy(decision.policy);
    if (policyDef && this.hooks.has("limit/exceeded")) {
      this.hooks
        .fire("limit/exceeded", { decision, policyDef })
        .catch((err: unknown) => this.log.warn({ err, policy: decision.policy }, "limit/exceeded handler failed"));
    }
  }

  private logRefusal(d: LimitDecision): void {
    const t = this.now();
    const id = `${d.policy}\u0000${d.key}`;
    const window = this.keyWindows.get(id);
    if (window && t < window.until) {
      window.unlogged++;
      return;
    }
    let perPolicy = this.policyWindows.get(d.policy);
    if (!perPolicy || t >= perPolicy.until) this.policyWindows.set(d.policy, (perPolicy = { until: t + this.logWindowMs, lines: 0, unlogged: perPolicy?.unlogged ?? 0 }));
    if (perPolicy.lines >= this.logLinesPerPolicy) {
      perPolicy.unlogged++;
      return;
    }
    perPolicy.lines++;
    if (this.keyWindows.size >= 10_000) this.forgetClosedWindows(t);
    this.keyWindows.set(id, { until: t + this.logWindowMs, unlogged: 0 });
    // refusals folded since this key's last line, and those of other keys past the per-policy cap
    const folded = (window?.unlogged ?? 0) + perPolicy.unlogged;
    perPolicy.unlogged = 0;
    this.log.info(
      { policy: d.policy, key: d.key, retryAfterMs: d.retryAfterMs, ...(folded > 0 ? { alsoRefused: folded } : {}) },
      `limit ${d.policy} refused ${d.key}; ${retryHint(d.retryAfterMs)}${folded > 0 ? ` (${folded} more refusals since the last line)` : ""}`,
    );
  }

  private forgetClosedWindows(t: number): void {
    for (const [id, w] of this.keyWindows) if (t >= w.until) this.keyWindows.delete(id);
  }
}
