/**
 * A Limiter for a cluster: decisions stay local and synchronous (an in-process token bucket per
 * node), and for policies with `scope: "cluster"` every hit is also announced on the bus, where
 * the other nodes take the same tokens from their own bucket. So a client spreading its failed
 * logins over N edges (a balancer does that by itself) gets one allowance, not N.
 *
 * Eventually consistent: a hit reaches the other nodes within a bus hop (sub-millisecond on a
 * LAN); two attempts on two edges inside that window may both pass. A node that starts later
 * knows nothing of earlier hits. Both are fine for what cluster scope is meant for (rare events
 * counted over minutes); per-stanza rates keep node scope and cost no bus traffic.
 */
import type { ControlMessage, StanzaBus } from "./ports.js";
import type { LimitDecision, LimitPolicy, Limiter } from "./limits.js";
import type { Logger } from "./logger.js";
import { MemoryLimiter } from "./memory/limiter.js";

export const LIMITER_HIT = "limiter.hit";

export class SharedLimiter implements Limiter {
  private readonly local: MemoryLimiter;
  private readonly unsubscribe: () => void;

  constructor(
    private readonly bus: StanzaBus,
    private readonly nodeId: string,
    private readonly log: Logger,
    now?: () => number,
  ) {
    this.local = new MemoryLimiter(now);
    this.unsubscribe = bus.subscribeControl((m) => this.onControl(m));
  }

  define(policy: string, spec: LimitPolicy): void {
    this.local.define(policy, spec);
  }

  policy(name: string): LimitPolicy | undefined {
    return this.local.policy(name);
  }

  hit(policy: string, key: string, cost = 1): LimitDecision {
    const decision = this.local.hit(policy, key, cost);
    if (cost > 0 && this.local.policy(policy)?.scope === "cluster") {
      this.bus
        .publishControl({ type: LIMITER_HIT, origin: this.nodeId, policy, key, cost })
        .catch((err: unknown) => this.log.warn({ err, policy }, "could not share a limiter hit with the cluster"));
    }
    return decision;
  }

  /** The other nodes' hits are already applied here (within a bus hop): a local hit is as exact as it gets. */
  async acquire(policy: string, key: string, cost = 1): Promise<LimitDecision> {
    return this.hit(policy, key, cost);
  }

  peek(policy: string, key: string): LimitDecision {
    return this.local.peek(policy, key);
  }

  close(): void {
    this.unsubscribe();
  }

  private onControl(m: ControlMessage): void {
    if (m.type !== LIMITER_HIT || m.origin === this.nodeId) return;
    const { policy, key, cost } = m;
    if (typeof policy !== "string" || typeof key !== "string" || typeof cost !== "number" || !(cost > 0)) return;
    // Only policies this node shares too: a node must not let others drain its node-scoped ones.
    if (this.local.policy(policy)?.scope !== "cluster") return;
    this.local.charge(policy, key, cost);
  }
}
