/**
 * The traffic tap's interest (issue 12 "switchboard tap"): which users someone is watching now.
 * An edge publishes a user's stanzas on the bus (StanzaBus.publishTap) only while that user is
 * watched, so the tap costs nothing for everyone else: one size check per stanza while nobody
 * taps anyone, one map lookup while someone taps someone.
 *
 * Interest is a lease: a watcher says "watch alice until t" on the control channel (`tap.watch`)
 * and renews it while it watches; every node keeps the latest `until` per user and forgets it
 * when it passes (a watcher that died stops costing anything within one lease) or on
 * `tap.unwatch`. Every start and stop is an audit log line on each node.
 */
import type { Logger } from "./logger.js";
import type { StanzaBus } from "./ports.js";

declare module "./ports.js" {
  interface ControlMessages {
    /** someone watches `user`'s traffic until `until` (epoch ms); `by` names them for the audit line */
    "tap.watch": { user: string; until: number; by?: string };
    /** the watcher stopped */
    "tap.unwatch": { user: string; by?: string };
  }
}

/** How long one announcement of interest lasts; watchers renew it at a third of that. */
export const TAP_LEASE_MS = 15_000;

export class TapInterest {
  private readonly watched = new Map<string, number>();
  private stopFollowing?: () => void;

  constructor(
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  /** Whether `bare`'s stanzas are to be published now. Cheap when nobody is watched. */
  isWatched(bare: string): boolean {
    if (this.watched.size === 0) return false;
    const until = this.watched.get(bare);
    if (until === undefined) return false;
    if (this.now() < until) return true;
    this.watched.delete(bare);
    this.log.info({ audit: "tap", user: bare }, `tap of ${bare} stopped (no watcher renewed it)`);
    return false;
  }

  watch(user: string, until: number, by?: string): void {
    if (!(until > this.now())) return;
    const was = this.watched.get(user);
    this.watched.set(user, Math.max(until, was ?? 0));
    if (was === undefined) this.log.info({ audit: "tap", user, by }, `tap of ${user} started${by ? ` by ${by}` : ""}`);
  }

  unwatch(user: string, by?: string): void {
    if (!this.watched.delete(user)) return;
    this.log.info({ audit: "tap", user, by }, `tap of ${user} stopped${by ? ` by ${by}` : ""}`);
  }

  /** Users watched now (admin listing). */
  users(): string[] {
    return [...this.watched.keys()].filter((u) => this.isWatched(u));
  }

  /** Follows `tap.watch` / `tap.unwatch` notices on the control channel. */
  follow(bus: StanzaBus): void {
    this.stopFollowing ??= bus.subscribeControl((m) => {
      if (m.type === "tap.watch" && typeof m.user === "string" && typeof m.until === "number") this.watch(m.user, m.until, typeof m.by === "string" ? m.by : undefined);
      else if (m.type === "tap.unwatch" && typeof m.user === "string") this.unwatch(m.user, typeof m.by === "string" ? m.by : undefined);
    });
  }

  stop(): void {
    this.stopFollowing?.();
    this.stopFollowing = undefined;
    this.watched.clear();
  }
}
