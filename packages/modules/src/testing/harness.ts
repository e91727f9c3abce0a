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
  InProcessMetrics,
  loadModule,
  silentLogger,
  type LocalSession,
  type ModuleDefinition,
  type SendOutcome,
  type Session,
  type SessionConnection,
  type SessionStateKey,
} from "@switchboard/core";

/**
 * A test client's session: a real core Session (opened, fed and ended through host.sessions,
 * exactly as a c2s stream does) whose connection records what the server writes to it.
 */
export class FakeSession implements LocalSession {
  readonly sent: Element[] = [];
  closeError?: StreamError;
  /** set true to make the connection refuse writes, as a full outbound buffer does */
  refuse = false;
  /** the connection's congestion as the stream engine would report it; change it with congest() */
  private congestedNow = false;
  readonly session!: Session;
  private waiters: Array<{ pred: (el: Element) => boolean; resolve: (el: Element) => void }> = [];
  readonly connection: SessionConnection;

  constructor(private readonly host: Host) {
    const recorder = this;
    this.connection = {
      ip: "127.0.0.1",
      secure: true,
      get congested() {
        return recorder.congestedNow;
      },
      write(stanza) {
        if (recorder.refuse) return "refused";
        // Serialize and re-parse so tests see exactly what a client would read.
        const copy = parseFrame(stanza.toString());
        recorder.sent.push(copy);
        recorder.waiters = recorder.waiters.filter((w) => (w.pred(copy) ? (w.resolve(copy), false) : true));
        return "written";
      },
      close(error) {
        recorder.closeError ??= error;
      },
    };
  }

  get congested(): boolean {
    return this.congestedNow;
  }

  /** Plays the stream engine's congestion report (stream/congestion.ts): the flag, then the event. */
  async congest(state: boolean): Promise<void> {
    this.congestedNow = state;
    await this.host.hooks.fire("session/congestion", { session: this.session, state: state ? "congested" : "relieved" });
  }

  /** @internal */
  opened(session: Session): void {
    (this as { session: Session }).session = session;
  }

  get id(): string {
    return this.session.id;
  }
  get jid(): Jid {
    return this.session.jid;
  }
  get facts(): Record<string, string | number | boolean> {
    return this.session.facts;
  }
  get ip(): string {
    return this.session.ip;
  }
  get secure(): boolean {
    return this.session.secure;
  }
  get closed(): boolean {
    return this.session.closed;
  }
  send(stanza: Element): SendOutcome {
    return this.session.send(stanza);
  }
  close(error?: StreamError): void {
    this.session.close(error);
  }
  state<T>(key: SessionStateKey<T>): T {
    return this.session.state(key);
  }

  /** Simulates the client going away (a socket close): the session table ends the session. */
  async disconnect(reason = "client left"): Promise<void> {
    await this.host.sessions.connectionLost(this.session, this.connection, reason);
  }

  /** Sends a stanza as this client (XML text or Element), stamped as the c2s stream does; resolves when routing is done. */
  async sendAsClient(stanza: string | Element): Promise<void> {
    const el = typeof stanza === "string" ? parseFrame(stanza) : stanza;
    delete el.attrs.xmlns;
    el.attrs.from = this.jid.full;
    await this.session.receive(el);
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
    metrics: new InProcessMetrics(),
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
      const client = new FakeSession(host);
      await host.sessions.open(jid, client.connection, { onBound: (session) => client.opened(session) });
      return client;
    },
    async stop() {
      await host.stop();
    },
  };
}
