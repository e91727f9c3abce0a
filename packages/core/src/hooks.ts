/**
 * Typed hook bus with priorities, in the spirit of Prosody's events: the router fires events
 * such as "message/bare" and features subscribe. Higher priority runs first; a handler that
 * returns true has handled the event and stops the chain.
 */
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

  /** Registers a handler; returns a function that removes it. */
  on<K extends keyof Events>(event: K, handler: HookHandler<Events[K]>, priority = 0): () => void {
    const entry: Entry<Events[K]> = { handler, priority, seq: this.seq++ };
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
