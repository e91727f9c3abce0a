/**
 * The cluster's Limiter (ARCHITECTURE.md "Abuse and overload limits"): cluster-scoped policies
 * count every edge's hits against one token bucket per (policy, key) in Redis, without a Redis
 * round trip or a bus message per hit.
 *
 * Leases. A node takes tokens from the Redis bucket several at a time — a lease of
 * max(cost, ceil(burst / 10)) tokens, at most the burst — and spends them locally and
 * synchronously in hit(). When a lease falls under half, the next one is fetched in the
 * background, asked for whole (a bucket refilling a token at a time would otherwise grant a
 * token per call under a steady flood), so a steady sender never waits on Redis: 10,000 hits cost about 10,000 / lease
 * size calls (the tests count them). When the bucket is empty, Redis says how long until a
 * whole lease is back, and the node refuses locally until then, so a flood costs about two calls
 * per lease's worth of refill (the one that brings it, the one that finds the bucket empty),
 * however fast it hits.
 *
 * Bounds, per node and key:
 * - Overshoot: a key a node has not seen (or has forgotten: idle for one interval) gets a
 *   provisional allowance of one lease while its first lease is fetched. What it spent of that
 *   allowance beyond what Redis then grants is a debt that the next leases pay back first, so
 *   the cluster admits at most one lease per node per key more than the bucket allows, and
 *   only until the debt is repaid (a forgotten debt is forgiven: at most one lease per idle
 *   interval).
 * - Undershoot: leased tokens a node does not spend are lost to the others; they expire one
 *   interval after the lease was granted, unused (giving them back would cost a call for little:
 *   a lease is a tenth of the burst). A key hit on many nodes at once may therefore be refused
 *   early by what the nodes hold: under 1.5 leases each (the next lease is fetched below half).
 *
 * acquire() is exact: it spends only tokens this node holds and asks Redis for the rest, waiting
 * for the answer. For rare events (failed logins, registrations) that must not get N
 * allowances on N edges. A cost of 0 asks whether one more token would be granted, taking none.
 *
 * Node-scoped policies are plain in-process buckets (MemoryLimiter). When Redis does not answer
 * (down, or slower than commandTimeoutMs), cluster-scoped policies fall back to in-process
 * buckets too, each node with the policy's full allowance (fail open per node: during an outage
 * an abuser gets N allowances on N edges, never zero service for everyone). The switch is
 * logged once; while on local buckets a hit tries Redis at most once per probeIntervalMs, and
 * the first answer puts the policies back on leases (logged once). No call ever throws or
 * rejects because of Redis.
 *
 * Keys: `${prefix}:{${key}}:limit:${policy}`, tagged by the key, so a per-user bucket shares
 * the user's Redis Cluster slot (`{alice@example.org}`) like the rest of the user's data (a key
 * holding "}" only shortens the tag, as in store/keys.ts). A bucket key expires when the bucket
 * would be full again, so idle keys (one-off IPs) do not pile up in Redis.
 */
import type { Redis } from "ioredis";
import { MemoryLimiter, silentLogger, validatePolicy, type LimitDecision, type LimitPolicy, type Limiter, type Logger } from "@switchboard/core";
import { assertValidPrefix } from "../store/keys.js";
import { RedisBuckets } from "./redis-buckets.js";
import type { GrantReply } from "./scripts.js";

export const DEFAULT_LIMITER_PREFIX = "sb";

export interface RedisLeasedLimiterOptions {
  /** key prefix, default "sb"; InvalidKeyPrefixError when it holds "{", "}" (they would change the hash tag) or a glob character */
  prefix?: string;
  log?: Logger;
  /** a limiter call Redis has not answered within this long counts as Redis unreachable; default 1000 ms */
  commandTimeoutMs?: number;
  /** while on local buckets, how often a hit may try Redis again; default 1000 ms */
  probeIntervalMs?: number;
  /** the clock of the local buckets and leases (tests); Redis' buckets run on Redis' clock */
  now?: () => number;
}

/** What the limiter did, for tests and diagnostics: proves there is no Redis call per hit. */
export interface LeasedLimiterStats {
  hits: number;
  acquires: number;
  /** commands sent to Redis (grants, probes) */
  redisCalls: number;
  /** background fetches that brought tokens (acquire() takes its tokens on the spot, not as a lease) */
  leases: number;
  /** keys that got a provisional allowance */
  provisional: number;
}

interface ClusterPolicy {
  spec: LimitPolicy;
  /** the bucket's capacity (burst), as the script takes it with limit and intervalMs */
  capacity: number;
  limit: number;
  intervalMs: number;
  /** tokens per ms */
  rate: number;
  /** tokens per lease for a cost of 1 */
  lease: number;
}

/** This node's share of one (policy, key) bucket. */
interface Lease {
  /** tokens this node may spend; includes the provisional allowance until the first answer; negative: owed */
  tokens: number;
  /** the provisional allowance still counted in `tokens` (0 once Redis answered) */
  provisional: number;
  /** unspent tokens are forfeited from then on */
  expiresAt: number;
  /** Redis said the bucket is empty: no fetch before then */
  blockedUntil: number;
  /** whole tokens the cluster's bucket had at the last answer */
  clusterLeft: number;
  lastUsed: number;
  fetching: boolean;
}

export class RedisLeasedLimiter implements Limiter {
  private readonly counts = { hits: 0, acquires: 0, leases: 0, provisional: 0 };
  private readonly buckets: RedisBuckets;
  /** node-scoped policies, and every cluster-scoped one while Redis is away */
  private readonly local: MemoryLimiter;
  private readonly cluster = new Map<string, ClusterPolicy>();
  private readonly leases = new Map<string, Lease>();
  private readonly now: () => number;
  private created = 0;
  private closed = false;

  constructor(redis: Redis, opts: RedisLeasedLimiterOptions = {}) {
    const prefix = opts.prefix ?? DEFAULT_LIMITER_PREFIX;
    assertValidPrefix(prefix);
    this.now = opts.now ?? Date.now;
    this.local = new MemoryLimiter(this.now);
    this.buckets = new RedisBuckets(redis, {
      prefix,
      log: opts.log ?? silentLogger,
      timeoutMs: opts.commandTimeoutMs ?? 1_000,
      probeIntervalMs: opts.probeIntervalMs ?? 1_000,
      now: this.now,
      // Leases are worthless once the buckets may move on without us; start afresh when back.
      onLost: () => this.leases.clear(),
    });
  }

  get stats(): LeasedLimiterStats {
    return { ...this.counts, redisCalls: this.buckets.calls };
  }

  /** "leases" while Redis answers, "local" while cluster-scoped policies fall back to per-node buckets. */
  get backend(): "leases" | "local" {
    return this.buckets.answering ? "leases" : "local";
  }

  define(name: string, policy: LimitPolicy): void {
    const capacity = validatePolicy(name, policy);
    this.local.define(name, policy);
    this.cluster.delete(name);
    const prefix = `${name}\u0000`;
    for (const id of this.leases.keys()) if (id.startsWith(prefix)) this.leases.delete(id);
    if (policy.scope !== "cluster") return;
    const lease = Math.min(capacity, Math.max(1, Math.ceil(capacity / 10)));
    this.cluster.set(name, { spec: policy, capacity, limit: policy.limit, intervalMs: policy.intervalMs, rate: policy.limit / policy.intervalMs, lease });
  }

  policy(name: string): LimitPolicy | undefined {
    return this.local.policy(name);
  }

  hit(name: string, key: string, cost = 1): LimitDecision {
    this.counts.hits++;
    const p = this.cluster.get(name);
    if (!p) return this.local.hit(name, key, cost);
    if (!this.buckets.answering) {
      this.buckets.probe();
      return this.local.hit(name, key, cost);
    }
    if (cost <= 0) return this.peek(name, key);
    if (cost > p.capacity) return refused(name, key, 0, Infinity);
    const t = this.now();
    const size = leaseSize(p, cost);
    const id = leaseId(name, key);
    let lease = this.leases.get(id);
    if (!lease) {
      if (++this.created % 1024 === 0) this.sweep(t);
      // First sight: spend on trust while the first lease is fetched (the overshoot bound).
      lease = { tokens: size, provisional: size, expiresAt: t + p.spec.intervalMs, blockedUntil: 0, clusterLeft: p.capacity - size, lastUsed: t, fetching: false };
      this.leases.set(id, lease);
      this.counts.provisional++;
      this.fetch(name, key, p, lease, size, 1);
    }
    lease.lastUsed = t;
    if (lease.provisional === 0 && t >= lease.expiresAt && lease.tokens > 0) lease.tokens = 0;
    if (lease.tokens >= cost) {
      lease.tokens -= cost;
      // The next lease, asked for whole (see below): a top-up of the few tokens refilled since
      // the last call would make a steady flood cost a call per token.
      if (lease.tokens < Math.ceil(size / 2) && !lease.fetching && t >= lease.blockedUntil) this.fetch(name, key, p, lease, size, size);
      return { allowed: true, policy: name, key, remaining: Math.max(0, Math.floor(lease.tokens)) + lease.clusterLeft, retryAfterMs: 0 };
    }
    // Out of tokens: ask for a whole lease, not the one token missing; when the bucket has less,
    // Redis says when a whole lease is back and the node refuses locally until then.
    if (!lease.fetching && t >= lease.blockedUntil) this.fetch(name, key, p, lease, size, size);
    // A fetch is on its way, or Redis said when a lease will be back.
    const wait = Math.max(lease.blockedUntil - t, Math.ceil((cost - Math.max(0, lease.tokens)) / p.rate), 1);
    return refused(name, key, Math.max(0, Math.floor(lease.tokens)), wait);
  }

  async acquire(name: string, key: string, cost = 1): Promise<LimitDecision> {
    this.counts.acquires++;
    const p = this.cluster.get(name);
    if (!p) return this.local.hit(name, key, cost);
    if (!this.buckets.answering) {
      this.buckets.probe();
      return this.local.hit(name, key, cost);
    }
    if (cost > p.capacity) return refused(name, key, 0, Infinity);
    const t = this.now();
    const lease = this.leases.get(leaseId(name, key));
    // Only tokens Redis granted count here: never the provisional allowance, never an expired lease.
    const own = lease && lease.provisional === 0 && t < lease.expiresAt ? Math.max(0, Math.floor(lease.tokens)) : 0;
    if (cost <= 0 && own >= 1) return { allowed: true, policy: name, key, remaining: own + lease!.clusterLeft, retryAfterMs: 0 };
    if (cost > 0 && own >= cost) {
      lease!.tokens -= cost;
      return { allowed: true, policy: name, key, remaining: own - cost + lease!.clusterLeft, retryAfterMs: 0 };
    }
    // Reserve what this node holds, so hits meanwhile cannot spend it twice; ask Redis for the rest.
    const reserved = cost > 0 ? own : 0;
    if (lease) lease.tokens -= reserved;
    const missing = cost > 0 ? cost - reserved : 0;
    let reply: GrantReply;
    try {
      reply = await this.buckets.grant(name, key, p, missing, Math.max(1, missing));
    } catch {
      // Redis did not answer (now logged, leases dropped): decide as the fallback would.
      return this.local.hit(name, key, cost);
    }
    if (lease) lease.clusterLeft = reply.left;
    if (!reply.ok) {
      if (lease) lease.tokens += reserved;
      return refused(name, key, reply.left + own, reply.retryMs);
    }
    return { allowed: true, policy: name, key, remaining: reply.left + (lease ? Math.max(0, Math.floor(lease.tokens)) : 0), retryAfterMs: 0 };
  }

  peek(name: string, key: string): LimitDecision {
    const p = this.cluster.get(name);
    if (!p || !this.buckets.answering) return this.local.peek(name, key);
    const t = this.now();
    const lease = this.leases.get(leaseId(name, key));
    if (!lease) return { allowed: true, policy: name, key, remaining: p.capacity, retryAfterMs: 0 };
    const tokens = lease.provisional === 0 && t >= lease.expiresAt ? Math.min(0, lease.tokens) : lease.tokens;
    if (tokens >= 1) return { allowed: true, policy: name, key, remaining: Math.floor(tokens) + lease.clusterLeft, retryAfterMs: 0 };
    return refused(name, key, 0, Math.max(lease.blockedUntil - t, Math.ceil((1 - Math.max(0, tokens)) / p.rate), 1));
  }

  close(): void {
    this.closed = true;
    this.buckets.close();
    this.leases.clear();
    this.local.close();
  }

  /** Fetches a lease in the background; the hit that asked has already been decided. */
  private fetch(name: string, key: string, p: ClusterPolicy, lease: Lease, want: number, need: number): void {
    lease.fetching = true;
    this.buckets.grant(name, key, p, want, need).then(
      (reply) => {
        lease.fetching = false;
        if (this.closed || this.leases.get(leaseId(name, key)) !== lease) return; // redefined, swept or closed meanwhile
        const t = this.now();
        // The first answer replaces the provisional allowance: what was spent beyond the grant is owed.
        lease.tokens += reply.granted - lease.provisional;
        lease.provisional = 0;
        lease.clusterLeft = reply.left;
        if (reply.granted > 0) {
          this.counts.leases++;
          lease.expiresAt = t + p.spec.intervalMs;
        }
        if (!reply.ok) lease.blockedUntil = t + reply.retryMs;
      },
      () => {
        // Redis did not answer: the limiter is on local buckets now (redis-buckets.ts).
        lease.fetching = false;
      },
    );
  }

  /** Forgets leases that expired and were not used for an interval (one-off keys such as IPs). */
  private sweep(t: number): void {
    for (const [id, lease] of this.leases) {
      const p = this.cluster.get(id.slice(0, id.indexOf("\u0000")));
      if (!p || (!lease.fetching && t >= lease.expiresAt && t - lease.lastUsed >= p.spec.intervalMs)) this.leases.delete(id);
    }
  }
}

function leaseId(name: string, key: string): string {
  return `${name}\u0000${key}`;
}

function leaseSize(p: ClusterPolicy, cost: number): number {
  return Math.min(p.capacity, Math.max(Math.ceil(cost), p.lease));
}

function refused(policy: string, key: string, remaining: number, retryAfterMs: number): LimitDecision {
  return { allowed: false, policy, key, remaining, retryAfterMs };
}
