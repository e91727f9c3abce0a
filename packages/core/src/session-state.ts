/**
 * Per-module session state, declared rather than kept in module-private maps keyed by a stream
 * object: the core can then hand a session's whole state to another stream or another node
 * (stream management resumes on any edge) because every piece is named and serializable.
 *
 * A key names the state and makes its initial value; values must survive JSON (plain objects,
 * arrays, strings, numbers, booleans) unless the key gives a codec (a Set kept as an array).
 */
export interface SessionStateKey<T> {
  readonly name: string;
  initial(): T;
  /** to a JSON-safe value (default: the value itself) */
  save?(value: T): unknown;
  /** back from what save() gave (default: the value itself) */
  load?(saved: unknown): T;
}

export function sessionState<T>(name: string, initial: () => T, codec: Pick<SessionStateKey<T>, "save" | "load"> = {}): SessionStateKey<T> {
  if (!/^[a-z][a-z0-9-]*(\.[a-z][a-z0-9-]*)*$/.test(name)) throw new Error(`session state name ${JSON.stringify(name)} must be dotted lower-case words (e.g. "presence.directed")`);
  return { name, initial, ...codec };
}

/** The keys modules declared (ModuleContext.sessionState), for export and import. */
export class SessionStateKeys {
  private readonly keys = new Map<string, SessionStateKey<unknown>>();

  declare<T>(key: SessionStateKey<T>): () => void {
    const existing = this.keys.get(key.name);
    if (existing && existing !== key) throw new Error(`session state ${key.name} is declared twice`);
    this.keys.set(key.name, key as SessionStateKey<unknown>);
    return () => {
      if (this.keys.get(key.name) === key) this.keys.delete(key.name);
    };
  }

  /** Everything a session holds, JSON-safe: what another node needs to restore it. */
  export(bag: ReadonlyMap<string, unknown>): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const [name, value] of bag) {
      const key = this.keys.get(name);
      if (!key) continue; // a module unloaded since: its state goes with it
      out[name] = key.save ? key.save(value) : value;
    }
    return out;
  }

  /** Fills a bag from export(); names no module declares here are skipped (an older or newer node). */
  import(bag: Map<string, unknown>, saved: Record<string, unknown>): void {
    for (const [name, value] of Object.entries(saved)) {
      const key = this.keys.get(name);
      if (key) bag.set(name, key.load ? key.load(value) : value);
    }
  }
}
