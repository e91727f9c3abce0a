/** In-process token-bucket Limiter; the Redis adapter keeps the same synchronous surface. */
import type { LimitPolicy, Limiter } from "../ports.js";

interface Bucket {
  tokens: number;
  updated: number;
}

export class MemoryLimiter implements Limiter {
  private readonly policies = new Map<string, LimitPolicy>();
  private readonly buckets = new Map<string, Bucket>();
  private sweeps = 0;

  constructor(private readonly now: () => number = Date.now) {}

  define(policy: string, spec: LimitPolicy): void {
    if (!(spec.limit > 0) || !(spec.intervalMs > 0)) throw new Error(`limit policy ${policy}: limit and intervalMs must be positive`);
    this.policies.set(policy, spec);
  }

  private refill(policy: string, key: string): { bucket: Bucket; spec: LimitPolicy } | undefined {
    const spec = this.policies.get(policy);
    if (!spec) return undefined;
    const id = `${policy}\u0000${key}`;
    const t = this.now();
    let bucket = this.buckets.get(id);
    if (!bucket) {
      bucket = { tokens: spec.limit, updated: t };
      this.buckets.set(id, bucket);
      if (++this.sweeps % 1024 === 0) this.sweep(t);
    } else {
      const rate = spec.limit / spec.intervalMs;
      bucket.tokens = Math.min(spec.limit, bucket.tokens + (t - bucket.updated) * rate);
      bucket.updated = t;
    }
    return { bucket, spec };
  }

  hit(policy: string, key: string, cost = 1): boolean {
    const r = this.refill(policy, key);
    if (!r) return true;
    if (r.bucket.tokens < cost) return false;
    r.bucket.tokens -= cost;
    return true;
  }

  /** Takes up to `cost` tokens whatever is left (a hit made elsewhere); never refuses. */
  charge(policy: string, key: string, cost = 1): void {
    const r = this.refill(policy, key);
    if (r) r.bucket.tokens = Math.max(0, r.bucket.tokens - cost);
  }

  policy(policy: string): LimitPolicy | undefined {
    return this.policies.get(policy);
  }

  remaining(policy: string, key: string): number {
    const r = this.refill(policy, key);
    return r ? Math.floor(r.bucket.tokens) : Infinity;
  }

  /** Drops full buckets so one-off keys (IPs) do not accumulate forever. */
  private sweep(t: number): void {
    for (const [id, b] of this.buckets) {
      const spec = this.policies.get(id.slice(0, id.indexOf("\u0000")));
      if (!spec || b.tokens + ((t - b.updated) * spec.limit) / spec.intervalMs >= spec.limit) this.buckets.delete(id);
    }
  }
}
