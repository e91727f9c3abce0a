/**
 * In-process harness for module unit tests: a Host on in-memory ports, fake client sessions
 * that record what the server writes to them, and helpers to send stanzas as a client would
 * (the `from` stamped exactly as the c2s stream does). Protocol tests over real sockets live in
 * the top-level test/ folder; this is for fast, focused checks of one module's rules.
 */
import { Element, Jid, StreamError, parseFrame, parseJid } from "@switchboard/xml";
import {
  Host,
  MemoryLimiter,
  MemorySessionRegistry,
  MemoryStanzaBus,
  MemoryStore,
  freshSessionInfo,
  loadModule,
  silentLogger,
  type LocalSession,
  type ModuleDefinition,
} from "@switchboard/core";

export class FakeSession implements LocalSession {
  readonly sent: Element[] = [];
  closed = false;
  closeError?: StreamError;
  readonly ip = "127.0.0.1";
  readonly secure = true;
  private waiters: Array<{ pred: (el: Element) => boolean; resolve: (el: Element) => void }> = [];

  constructor(
    readonly id: string,
    readonly jid: Jid,
    private readonly host: Host,
  ) {}

  send(stanza: Element): void {
    // Serialize and re-parse so tests see exactly what a client would read.
    const copy = parseFrame(stanza.toString());
    this.sent.push(copy);
    this.waiters = this.waiters.filter((w) => (w.pred(copy) ? (w.resolve(copy), false) : true));
  }

  close(error?: StreamError): void {
    if (this.closed) return;
    this.closed = true;
    this.closeError = error;
    void this.disconnect("closed by server");
  }

  /** Simulates the client going away (like a socket close): unbind and fire session/closed. */
  async disconnect(reason = "client left"): Promise<void> {
    this.closed = true;
    if (this.host.sessions.get(this.id) !== this) return;
    this.host.sessions.delete(this.id);
    await this.host.registry.unbind(this.jid.full, this.id);
    await this.host.hooks.fire("session/closed", { session: this, reason });
  }

  /** Sends a stanza as this client (XML text or Element); resolves when routing is done. */
  async sendAsClient(stanza: string | Element): Promise<void> {
    const el = typeof stanza === "string" ? parseFrame(stanza) : stanza;
    delete el.attrs.xmlns;
    el.attrs.from = this.jid.full;
    await this.host.router.route(el, this);
  }

  /** Stanzas received so far matching a predicate (default: all), and clears them when asked. */
  take(pred: (el: Element) => boolean = () => true): Element[] {
    const out = this.sent.filter(pred);
    for (const el of out) this.sent.splice(this.sent.indexOf(el), 1);
    return out;
  }

  /** Resolves with the first stanza (already received or future) matching pred. */
  waitFor(pred: (el: Element) => boolean, timeoutMs = 2000): Promise<Element> {
    const found = this.sent.find(pred);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`timed out waiting for a stanza on ${this.jid.full}`)), timeoutMs);
      this.waiters.push({ pred, resolve: (el) => (clearTimeout(t), resolve(el)) });
    });
  }
}

export interface TestHost {
  host: Host;
  store: MemoryStore;
  /** Creates the account if needed, binds a resource and registers the session like c2s does. */
  login(fullJid: string): Promise<FakeSession>;
  stop(): Promise<void>;
}

let seq = 0;

export async function createTestHost(
  modules: Array<ModuleDefinition<any> | [ModuleDefinition<any>, Record<string, unknown>]>,
  opts: {
    domain?: string;
    offlinePerUser?: number;
    /** a second node of the same cluster: pass the first one's ports and a node id of its own */
    cluster?: { nodeId: string; store: MemoryStore; registry: MemorySessionRegistry; bus: MemoryStanzaBus };
  } = {},
): Promise<TestHost> {
  const store = opts.cluster?.store ?? new MemoryStore();
  const host = new Host({
    domain: opts.domain ?? "localhost",
    nodeId: opts.cluster?.nodeId ?? "test-node",
    store,
    registry: opts.cluster?.registry ?? new MemorySessionRegistry(),
    bus: opts.cluster?.bus ?? new MemoryStanzaBus(),
    limiter: new MemoryLimiter(),
    log: silentLogger,
    limits: { offlinePerUser: opts.offlinePerUser ?? 100 },
  });
  host.start();
  for (const m of modules) {
    if (Array.isArray(m)) await loadModule(host, m[0], m[1] as never);
    else await loadModule(host, m);
  }
  return {
    host,
    store,
    async login(fullJid: string) {
      const jid = parseJid(fullJid);
      if (!(await store.accounts.exists(jid.bare))) {
        const cred = { salt: "", iterations: 1, storedKey: "", serverKey: "" };
        await store.accounts.create(jid.bare, { "SCRAM-SHA-1": cred, "SCRAM-SHA-256": cred });
      }
      const session = new FakeSession(`s${++seq}`, jid, host);
      const previous = await host.registry.bind(freshSessionInfo(jid.full, session.id, host.nodeId));
      if (previous) host.sessions.get(previous.sessionId)?.close(new StreamError("conflict"));
      host.sessions.set(session.id, session);
      await host.hooks.fire("session/bound", { session });
      return session;
    },
    async stop() {
      await host.stop();
    },
  };
}
