/**
 * The sessions this process holds, and their lifecycle (ARCHITECTURE.md "Movable sessions").
 * Only this table adds or removes sessions, so every path — a c2s bind, the module test harness,
 * a resumption — goes through the same steps:
 *
 *   open ──▶ active ──connection lost──▶ detached (until a deadline) ──attach──▶ active
 *                 │                            │                                   │
 *                 └──────────── end ◀──────────┴──────── deadline / close ◀────────┘
 *
 * - open: binds the resource in the registry (RFC 6120 §7; an existing binding of the same full
 *   JID is taken over and its stream gets <conflict/>, §7.7.2.2), then fires `session/bound`.
 * - connection lost: `session/connection-lost` handlers may keep the session (stream management
 *   calls detach()); otherwise it ends.
 * - detach / attach: the resource stays bound, with its presence, while no stream carries it.
 * - end: unbinds and fires `session/closed` (unavailable presence to contacts and the like).
 * - adopt / release: a session moves between nodes; the registry entry moves atomically
 *   (SessionRegistry.move) and the per-module state travels in `exportState()`.
 */
import { randomBytes } from "node:crypto";
import { StreamError, type Element, type Jid } from "@switchboard/xml";
import type { Host } from "./host.js";
import type { Histogram } from "./metrics.js";
import { freshSessionInfo, type SessionInfo } from "./ports.js";
import { Session, type SendOutcome, type SessionConnection } from "./session.js";
import { SessionFilters } from "./session-filters.js";
import { SessionStateKeys } from "./session-state.js";
import { INTEREST_STATE } from "./interest.js";

let sessionSeq = 0;

export interface OpenOptions {
  /**
   * Runs once the resource is bound and the session is in the table, before `session/bound`
   * fires: a stream writes its bind result here, so the client hears "bound" before anything
   * modules send on that event.
   */
  onBound?(session: Session): void;
  /** limits.maxSessionsPerUser: the registry refuses the bind with SessionLimitError past it */
  maxSessions?: number;
}

export class SessionTable {
  readonly filters = new SessionFilters();
  readonly stateKeys = new SessionStateKeys();
  private readonly byId = new Map<string, Session>();
  private readonly deadlines = new Map<Session, NodeJS.Timeout>();

  constructor(private readonly host: Host) {
    this.stateKeys.declare(INTEREST_STATE); // the core's own: which lists a session fetched
    this.routing = host.metrics.histogram("switchboard_routing_seconds", {
      help: "From a client's stanza entering the router to its delivery handed on (local write, bus publish, storage or error)",
    });
    host.metrics.observe("switchboard_sessions", { help: "Bound sessions held by this process, by state", labels: ["state"] }, () => {
      let active = 0;
      let detached = 0;
      for (const s of this.byId.values()) {
        if (s.status === "active") active++;
        else if (s.status === "detached") detached++;
      }
      return [
        [active, { state: "active" }],
        [detached, { state: "detached" }],
      ];
    });
  }

  get(id: string): Session | undefined {
    return this.byId.get(id);
  }

  values(): IterableIterator<Session> {
    return this.byId.values();
  }

  get size(): number {
    return this.byId.size;
  }

  /** A new session id, unique across the cluster (the node id prefixes it). */
  newId(): string {
    return `${this.host.nodeId}:${(++sessionSeq).toString(36)}${randomBytes(3).toString("hex")}`;
  }

  /**
   * Binds `jid` for a stream and returns its session. Rejects when the registry cannot be
   * reached (the caller answers with a temporary error); nothing is left behind then.
   */
  async open(jid: Jid, connection: SessionConnection, opts: OpenOptions = {}): Promise<Session> {
    const session = new Session(this, this.newId(), jid, connection);
    const previous = await this.host.registry.bind(freshSessionInfo(jid.full, session.id, this.host.nodeId), { maxSessions: opts.maxSessions });
    this.byId.set(session.id, session);
    // The bind result goes out first: what the replaced session held (a detached one's queue)
    // is routed to this stream, and a client reads no stanza before it knows its JID.
    opts.onBound?.(session);
    if (previous && previous.sessionId !== session.id) await this.replaced(previous);
    await this.host.hooks.fire("session/bound", { session });
    return session;
  }

  /** RFC 6120 §7.7.2.2: the older stream of a resource taken over by a new bind gets <conflict/>. */
  private async replaced(previous: SessionInfo): Promise<void> {
    if (previous.detachedUntil !== undefined) {
      // No stream to close: whoever keeps the waiting session ends it (stream management).
      await this.host.hooks.fire("session/replaced", { info: previous }).catch((err: unknown) => this.host.log.warn({ err }, "session/replaced handler failed"));
      return;
    }
    if (previous.nodeId === this.host.nodeId) {
      this.byId.get(previous.sessionId)?.close(new StreamError("conflict", "replaced by a new connection for the same resource"));
      return;
    }
    // On another node: tell it to close. If that node is unreachable it is dead or fenced, and
    // its streams are closed or purged anyway.
    await this.host.bus
      .publish(previous.nodeId, { kind: "session-control", to: previous.jid, sessionId: previous.sessionId, action: "conflict" })
      .catch((err: unknown) => this.host.log.warn({ err, node: previous.nodeId }, "could not ask a node to close a replaced stream"));
  }

  /**
   * The stream carrying `session` is gone. A `session/connection-lost` handler that keeps the
   * session (to be resumed) detaches it here, or hands it elsewhere and releases it, and returns
   * true; otherwise it ends here. `abrupt`: the stream was not closed by either side (a drop).
   */
  async connectionLost(session: Session, connection: SessionConnection, reason: string, abrupt = true): Promise<void> {
    if (session.closed || session.currentConnection !== connection) return;
    try {
      if (await this.host.hooks.fire("session/connection-lost", { session, reason, abrupt })) {
        if (session.status === "detached" || session.closed) return;
        this.host.log.warn({ jid: session.jid.full }, "a session/connection-lost handler kept a session without detaching it; ending it");
      }
    } catch (err) {
      this.host.log.error({ err, jid: session.jid.full }, "session/connection-lost handler failed");
    }
    await this.end(session, reason);
  }

  /** Keeps a session without a stream until `ttlMs` from now; then it ends. */
  async detach(session: Session, ttlMs: number): Promise<void> {
    if (session.closed) return;
    const until = Date.now() + ttlMs;
    session.markDetached(until);
    this.clearDeadline(session);
    const timer = setTimeout(() => void this.end(session, "detached session not resumed in time"), ttlMs);
    timer.unref();
    this.deadlines.set(session, timer);
    await this.host.registry.update(session.jid.full, session.id, { detachedUntil: until }).catch((err: unknown) => {
      this.host.log.warn({ err, jid: session.jid.full }, "could not mark a detached session in the registry");
    });
    await this.host.hooks.fire("session/detached", { session });
  }

  /** Gives a detached session a stream again (a resumption on this node). */
  async attach(session: Session, connection: SessionConnection): Promise<void> {
    if (session.status !== "detached") throw new Error(`session ${session.id} is ${session.status}, not detached`);
    this.clearDeadline(session);
    session.markAttached(connection);
    await this.host.registry.update(session.jid.full, session.id, { detachedUntil: undefined });
    await this.host.hooks.fire("session/attached", { session });
  }

  /** Ends a session: it leaves the table, the registry forgets the resource, modules clean up. */
  async end(session: Session, reason: string): Promise<void> {
    if (session.closed) return;
    session.markClosed();
    this.clearDeadline(session);
    if (this.byId.get(session.id) === session) this.byId.delete(session.id);
    try {
      await this.host.registry.unbind(session.jid.full, session.id);
      await this.host.hooks.fire("session/closed", { session, reason });
    } catch (err) {
      this.host.log.error({ err, jid: session.jid.full }, "session cleanup failed");
    }
    this.host.log.info({ jid: session.jid.full, reason }, "session closed");
  }

  /**
   * Takes over a session another stream or node held (`from`, as the registry knows it) for a
   * new connection here: the registry entry moves atomically, the saved module state is
   * restored, and `session/attached` fires. Undefined when the session is gone or was taken by
   * someone else meanwhile. `onAdopted` runs as soon as stanzas can reach the session, before
   * any does (stream management holds them until its <resumed/> is out).
   */
  async adopt(
    from: Pick<SessionInfo, "jid" | "sessionId">,
    jid: Jid,
    state: Record<string, unknown>,
    connection: SessionConnection,
    id = this.newId(),
    onAdopted?: (session: Session) => void,
  ): Promise<Session | undefined> {
    const session = new Session(this, id, jid, connection);
    this.stateKeys.import(session.stateBag, state);
    // In the table before the registry points here: a stanza routed by the moved entry (while
    // the move's cache invalidation is still confirmed) finds it.
    this.byId.set(session.id, session);
    onAdopted?.(session);
    const moved = await this.host.registry.move(from.jid, from.sessionId, { nodeId: this.host.nodeId, sessionId: session.id }).catch((err: unknown) => {
      this.byId.delete(session.id);
      session.markClosed();
      throw err;
    });
    if (!moved) {
      this.byId.delete(session.id);
      session.markClosed();
      return undefined;
    }
    await this.host.hooks.fire("session/attached", { session });
    return session;
  }

  /**
   * Lets go of a session that now lives elsewhere (adopted by another stream or node, or kept
   * for a resumption outside this process): it leaves the table without unbinding or telling
   * anyone, since the resource is still online. Its stream, if any, is closed with `error`.
   */
  release(session: Session, error?: StreamError): void {
    if (session.closed) return;
    const connection = session.currentConnection;
    session.markClosed();
    this.clearDeadline(session);
    if (this.byId.get(session.id) === session) this.byId.delete(session.id);
    connection?.close(error);
  }

  /**
   * Another stream took this session over (a resumption elsewhere): modules let go of their
   * node-local part (`session/moved`), and its stream here gets <conflict/>.
   */
  async movedAway(session: Session): Promise<void> {
    if (session.closed) return;
    await this.host.hooks.fire("session/moved", { session }).catch((err: unknown) => this.host.log.error({ err }, "session/moved handler failed"));
    this.release(session, new StreamError("conflict", "the session was resumed by another connection"));
  }

  /** The session's module state, JSON-safe (what adopt() takes on the other side). */
  exportState(session: Session): Record<string, unknown> {
    return this.stateKeys.export(session.stateBag);
  }

  /** Closes every session (a fenced node, a stop): each ends, contacts are told. */
  closeAll(error: StreamError): void {
    for (const session of [...this.byId.values()]) session.close(error);
  }

  /** @internal the read path: incoming filters, then the router (Session.receive) */
  async receive(session: Session, stanza: Element): Promise<void> {
    const filtered = this.filters.runIncoming(session, stanza);
    if (filtered === "drop") return;
    if (filtered !== stanza) this.host.traces.carry(stanza, filtered);
    const started = performance.now();
    await this.host.router.route(filtered, session);
    this.routing.record((performance.now() - started) / 1000);
  }

  private readonly routing: Histogram;

  /** @internal the write path: outgoing filters (Session.send) */
  runOutgoing(session: Session, stanza: Element): Element | SendOutcome {
    return this.filters.runOutgoing(session, stanza);
  }

  private clearDeadline(session: Session): void {
    const timer = this.deadlines.get(session);
    if (timer) clearTimeout(timer);
    this.deadlines.delete(session);
  }
}
