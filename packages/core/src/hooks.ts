/**
 * Typed hook bus with priorities, in the spirit of Prosody's events: the router fires events
 * such as "message/bare" and features subscribe. Higher priority runs first; a handler that
 * returns true has handled the event and stops the chain.
 *
 * Priorities come in named bands (ARCHITECTURE.md "Hook priorities come in named bands"), so a
 * module says what kind of handler it is rather than picking a number that happens to sort
 * right against another module's.
 */

/**
 * The bands, first to run at the top. An offset (−4999…4999) orders handlers within a band.
 * - observe: sees everything and stops nothing (liveness, counters, the tap);
 * - limits: rate limits and quotas, refusing before any work is done;
 * - policy: blocking, privacy and permissions;
 * - feature: what a module is for (the default);
 * - after: follow-ups on what a feature handled (records, copies).
 */
export const BANDS = { observe: 50_000, limits: 40_000, policy: 30_000, feature: 20_000, after: 10_000 } as const;
export type Band = keyof typeof BANDS;

/** Where a handler sits in a chain: its band, and an offset within it (higher first). */
export interface HookPosition {
  band: Band;
  offset?: number;
}

export function hookPriority(position: HookPosition | number | undefined): number {
  if (position === undefined) return BANDS.feature;
  if (typeof position === "number") return position;
  const offset = position.offset ?? 0;
  if (!Number.isInteger(offset) || Math.abs(offset) >= 5_000) throw new Error(`hook offset ${offset} must be an integer within ±4999 of its band`);
  return BANDS[position.band] + offset;
}
export type HookResult = boolean | void | Promise<boolean | void>;
export type HookHandler<P> = (payload: P) => HookResult;

interface Entry<P> {
  handler: HookHandler<P>;
  priority: number;
  seq: number;
}

export class HookBus<Events extends { [K in keyof Events]: unknown }> {
  private readonly chains = new Map<keyof Events, Entry<never>[]>();
  private seq = 0;

  /** Registers a handler (default: the feature band); returns a function that removes it. */
  on<K extends keyof Events>(event: K, handler: HookHandler<Events[K]>, position?: HookPosition | number): () => void {
    const entry: Entry<Events[K]> = { handler, priority: hookPriority(position), seq: this.seq++ };
    const chain = (this.chains.get(event) ?? []) as Entry<Events[K]>[];
    const next = [...chain, entry].sort((a, b) => b.priority - a.priority || a.seq - b.seq);
    this.chains.set(event, next as Entry<never>[]);
    return () => {
      const current = (this.chains.get(event) ?? []) as Entry<Events[K]>[];
      this.chains.set(event, current.filter((e) => e !== entry) as Entry<never>[]);
    };
  }

  has(event: keyof Events): boolean {
    return (this.chains.get(event)?.length ?? 0) > 0;
  }

  /** Runs handlers in priority order until one returns true. Resolves to true when handled. */
  async fire<K extends keyof Events>(event: K, payload: Events[K]): Promise<boolean> {
    const chain = this.chains.get(event) as Entry<Events[K]>[] | undefined;
    if (!chain) return false;
    for (const entry of chain) {
      const r = entry.handler(payload);
      if (r === true) return true;
      if (r !== undefined && r !== false && (await r) === true) return true;
    }
    return false;
  }
}
