/**
 * In-process token buckets: the single node's Limiter, and the cluster adapter's node-scoped
 * policies and fallback. A bucket holds up to `burst` tokens (default `limit`) and gets `limit`
 * tokens back per `intervalMs`, continuously, so a refused request learns exactly when `cost`
 * tokens will be there again. Everything is decided in memory: acquire() is hit().
 */
import { unlimited, validatePolicy, type LimitDecision, type LimitPolicy, type Limiter } from "../limits.js";

interface Bucket {
  tokens: number;
  updated: number;
}

interface Defined {
  spec: LimitPolicy;
  capacity: number;
  /** tokens per ms */
  rate: number;
}

/** Float noise must not turn an exact 100 ms wait into 101 ms. */
const EPSILON = 1e-9;

/** ms until a bucket holding `tokens` holds `wanted`, at `rate` tokens per ms. */
export function msUntil(tokens: number, wanted: number, rate: number): number {
  return Math.max(0, Math.ceil((wanted - tokens) / rate - EPSILON));
}

export class MemoryLimiter implements Limiter {
  private readonly policies = new Map<string, Defined>();
  private readonly buckets = new Map<string, Bucket>();
  private created = 0;

  constructor(private readonly now: () => number = Date.now) {}

  define(name: string, spec: LimitPolicy): void {
    const capacity = validatePolicy(name, spec);
    this.policies.set(name, { spec, capacity, rate: spec.limit / spec.intervalMs });
    const prefix = `${name}\u0000`;
    for (const id of this.buckets.keys()) if (id.startsWith(prefix)) this.buckets.delete(id);
  }

  policy(name: string): LimitPolicy | undefined {
    return this.policies.get(name)?.spec;
  }

  hit(name: string, key: string, cost = 1): LimitDecision {
    const p = this.policies.get(name);
    if (!p) return unlimited(name, key);
    if (cost <= 0) return this.peek(name, key);
    const t = this.now();
    const id = `${name}\u0000${key}`;
    let bucket = this.buckets.get(id);
    if (!bucket) {
      // Sweep before adding, so the new (still full) bucket is not swept with the idle ones.
      if (++this.created % 1024 === 0) this.sweep(t);
      bucket = { tokens: p.capacity, updated: t };
      this.buckets.set(id, bucket);
    } else {
      refill(bucket, p, t);
    }
    if (cost > p.capacity) return { allowed: false, policy: name, key, remaining: Math.floor(bucket.tokens + EPSILON), retryAfterMs: Infinity };
    if (bucket.tokens + EPSILON < cost) {
      return { allowed: false, policy: name, key, remaining: Math.floor(bucket.tokens + EPSILON), retryAfterMs: Math.max(1, msUntil(bucket.tokens, cost, p.rate)) };
    }
    bucket.tokens = Math.max(0, bucket.tokens - cost);
    return { allowed: true, policy: name, key, remaining: Math.floor(bucket.tokens + EPSILON), retryAfterMs: 0 };
  }

  /** In memory a hit is already exact. */
  async acquire(name: string, key: string, cost = 1): Promise<LimitDecision> {
    return this.hit(name, key, cost);
  }

  peek(name: string, key: string): LimitDecision {
    const p = this.policies.get(name);
    if (!p) return unlimited(name, key);
    const bucket = this.buckets.get(`${name}\u0000${key}`);
    // computed on a copy: peeking must not create or change a bucket
    const tokens = bucket ? Math.min(p.capacity, bucket.tokens + (this.now() - bucket.updated) * p.rate) : p.capacity;
    const allowed = tokens + EPSILON >= 1;
    return { allowed, policy: name, key, remaining: Math.floor(tokens + EPSILON), retryAfterMs: allowed ? 0 : Math.max(1, msUntil(tokens, 1, p.rate)) };
  }

  close(): void {
    this.buckets.clear();
  }

  /** Drops full buckets (a missing bucket is a full one), so one-off keys such as IPs do not pile up. */
  private sweep(t: number): void {
    for (const [id, b] of this.buckets) {
      const p = this.policies.get(id.slice(0, id.indexOf("\u0000")));
      if (!p || b.tokens + (t - b.updated) * p.rate >= p.capacity) this.buckets.delete(id);
    }
  }
}

function refill(bucket: Bucket, p: Defined, t: number): void {
  // a clock that steps back (NTP) gives nothing back rather than taking tokens away
  if (t > bucket.updated) bucket.tokens = Math.min(p.capacity, bucket.tokens + (t - bucket.updated) * p.rate);
  bucket.updated = Math.max(bucket.updated, t);
}
