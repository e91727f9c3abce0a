/**
 * The Redis side of the leased limiter: grants from the buckets (scripts.ts) under a deadline,
 * and whether Redis answers at all. The first failed call switches the limiter to its local
 * buckets (logged once); from then on a hit may probe at most once per probe interval, and the
 * first answer switches back (logged once). Nothing here is awaited on the hot path.
 */
import type { Redis } from "ioredis";
import type { Logger } from "@switchboard/core";
import { isDown } from "../registry/errors.js";
import { parseGrant, withLimiterScripts, type GrantReply } from "./scripts.js";

/** Why a Redis call of the limiter gave nothing; never thrown to callers (it switches to local buckets). */
export class LimiterBackendError extends Error {
  override name = "LimiterBackendError";
  constructor(
    readonly reason: "disconnected" | "timeout" | "failed",
    options?: { cause?: unknown },
  ) {
    super(`limiter backend ${reason}`, options);
  }
}

/** What the script needs to know of a policy. */
export interface BucketShape {
  capacity: number;
  limit: number;
  intervalMs: number;
}

export interface RedisBucketsOptions {
  prefix: string;
  log: Logger;
  timeoutMs: number;
  probeIntervalMs: number;
  now: () => number;
  /** Redis stopped answering: leases held now are worthless (the buckets may move on without us) */
  onLost: () => void;
}

/** The probe asks for nothing from a bucket nobody uses: it proves the script runs, not only PING. */
const PROBE: BucketShape = { capacity: 1, limit: 1, intervalMs: 1_000 };

export class RedisBuckets {
  /** commands sent (grants and probes) */
  calls = 0;
  private readonly redis: ReturnType<typeof withLimiterScripts>;
  private reachable = true;
  private nextProbeAt = 0;
  private probing = false;
  private closed = false;

  constructor(
    redis: Redis,
    private readonly opts: RedisBucketsOptions,
  ) {
    this.redis = withLimiterScripts(redis);
  }

  /** false while the limiter decides on local buckets */
  get answering(): boolean {
    return this.reachable;
  }

  /** Takes up to `want` tokens when `need` are there (scripts.ts); rejects, after switching to local, when Redis does not answer. */
  async grant(policy: string, key: string, shape: BucketShape, want: number, need: number): Promise<GrantReply> {
    try {
      const reply = await this.call(() => this.redis.switchboardLimiterGrant(this.keyOf(policy, key), shape.capacity, shape.limit, shape.intervalMs, want, need));
      return parseGrant(reply);
    } catch (err) {
      this.lost(err);
      throw err;
    }
  }

  /** While Redis is deemed away: asks it again, at most once per probe interval, without waiting. */
  probe(): void {
    if (this.reachable || this.probing || this.closed) return;
    const t = this.opts.now();
    if (t < this.nextProbeAt) return;
    this.nextProbeAt = t + this.opts.probeIntervalMs;
    if (isDown(this.redis)) return; // ioredis is still reconnecting: a command would only fail
    this.probing = true;
    this.call(() => this.redis.switchboardLimiterGrant(this.keyOf("probe", "limiter"), PROBE.capacity, PROBE.limit, PROBE.intervalMs, 0, 1)).then(
      () => {
        this.probing = false;
        if (this.closed || this.reachable) return;
        this.reachable = true;
        this.opts.log.info("limiter: Redis answers again; cluster-scoped limits are shared through leases again");
      },
      () => {
        this.probing = false;
      },
    );
  }

  close(): void {
    this.closed = true;
  }

  /** `${prefix}:{${key}}:limit:${policy}`: see leased-limiter.ts for the hash tag. */
  keyOf(policy: string, key: string): string {
    return `${this.opts.prefix}:{${key}}:limit:${policy}`;
  }

  private lost(err: unknown): void {
    if (!this.reachable || this.closed) return;
    this.reachable = false;
    this.nextProbeAt = this.opts.now() + this.opts.probeIntervalMs;
    this.opts.onLost();
    const cause = err instanceof Error && err.cause instanceof Error ? err.cause.message : undefined;
    this.opts.log.warn(
      { err: err instanceof Error ? err.message : String(err), ...(cause ? { cause } : {}) },
      "limiter: Redis does not answer; cluster-scoped limits are decided on each node alone, with their full allowance, until it does",
    );
  }

  /** One command under a deadline; rejects at once, sending nothing, while the client is down. */
  private async call<T>(run: () => Promise<T>): Promise<T> {
    if (isDown(this.redis)) throw new LimiterBackendError("disconnected");
    this.calls++;
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new LimiterBackendError("timeout")), this.opts.timeoutMs);
    });
    try {
      return await Promise.race([run(), deadline]);
    } catch (err) {
      throw err instanceof LimiterBackendError ? err : new LimiterBackendError("failed", { cause: err });
    } finally {
      clearTimeout(timer);
    }
  }
}
