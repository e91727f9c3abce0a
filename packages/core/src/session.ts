/**
 * A client session the core owns (ARCHITECTURE.md "Movable sessions"): a bound resource with its
 * write path, its per-module state and a lifecycle that outlives any one stream. A stream
 * (c2s over TCP, TLS or WebSocket) is only the session's current connection: it can go away and
 * the session be detached (kept, with its resource and presence, until a deadline), attached to a
 * new connection, or moved to another node (session-table.ts).
 *
 * Every write to the client goes through `send()`, which runs the outgoing filters (counting,
 * holding, coalescing, the tap — session-filters.ts) and says what happened, so a caller whose
 * stanza was refused can fall back (other resources, offline storage, an error to the sender).
 * Nothing on the write path changes the element it is given: a filter that needs another stanza
 * returns a new element.
 */
import type { Element, Jid, StreamError } from "@switchboard/xml";
import type { SessionStateKey } from "./session-state.js";

/**
 * What became of a stanza handed to a session:
 * - written: given to the connection (the transport has it);
 * - queued: held by a filter (a client that said it is inactive, a detached session waiting for
 *   resumption); the filter writes it later or hands it back to the router;
 * - coalesced: it replaced a stanza already held (the latest presence of a sender);
 * - refused: it cannot be taken (no connection, the client's outbound buffer is full): the
 *   caller must fall back, as for an offline resource.
 */
export type SendOutcome = "written" | "queued" | "coalesced" | "refused";

export function accepted(outcome: SendOutcome): boolean {
  return outcome !== "refused";
}

/** What a stream gives the session it carries. */
export interface SessionConnection {
  readonly ip: string;
  readonly secure: boolean;
  /** how the client is connected (tcp, tls, websocket), for the admin listing */
  readonly transport?: string;
  /** writes one stanza now; refused when the peer cannot take it (gone, outbound buffer past its bound) */
  write(stanza: Element): "written" | "refused";
  /**
   * the outbound queue is past its high-water mark (a slow reader): writes still work, and the
   * outgoing path decides what waits (modules/congestion); the change comes as `session/congestion`
   */
  readonly congested?: boolean;
  /** closes the stream (with a stream error); the session is told separately how it ended */
  close(error?: StreamError): void;
  /**
   * cuts the connection without closing the XML stream, as a network drop would (a drain
   * handing stream-management sessions to another edge); the session is told as for a drop
   */
  abort?(reason: string): void;
}

/**
 * What went through a session since it was bound (across resumptions on this node): counted by
 * the client stream (c2s) as it reads and writes, read by the admin listing and the per-user
 * accounting. Plain numbers: a count is one addition.
 */
export class SessionTraffic {
  stanzasIn = 0;
  stanzasOut = 0;
  bytesIn = 0;
  bytesOut = 0;
  /** stanzasIn and stanzasOut by kind (the alert rules' per-kind measures) */
  messagesIn = 0;
  presencesIn = 0;
  iqsIn = 0;
  messagesOut = 0;
  presencesOut = 0;
  iqsOut = 0;
}

/** The surface modules see: a bound resource held by this process. */
export interface LocalSession {
  readonly id: string;
  /** full JID */
  readonly jid: Jid;
  /** peer address of the current (or last) connection, for per-IP limits and logs */
  readonly ip: string;
  readonly secure: boolean;
  /** Writes a stanza to the client through the session's filters; says what happened. */
  send(stanza: Element): SendOutcome;
  /** its connection's outbound queue is past the high-water mark (false without a connection) */
  readonly congested: boolean;
  /** Ends the session: closes its stream (with a stream error when given), unbinds the resource. */
  close(error?: StreamError): void;
  /** true once the session ended */
  readonly closed: boolean;
  /** Per-module state, declared with `sessionState()`; made on first use. */
  state<T>(key: SessionStateKey<T>): T;
  /**
   * What modules report about the session for operators (the admin listing): plain values by
   * name, e.g. `sm: true` once stream management is on. Not routing state.
   */
  readonly facts: Record<string, string | number | boolean>;
}

export type SessionStatus = "active" | "detached" | "closed";

/** What a Session needs from the table that owns it (filters, ending). */
export interface SessionOwner {
  runOutgoing(session: Session, stanza: Element): Element | SendOutcome;
  receive(session: Session, stanza: Element): Promise<void>;
  end(session: Session, reason: string): Promise<void>;
}

export class Session implements LocalSession {
  private status_: SessionStatus = "active";
  private connection?: SessionConnection;
  private lastIp: string;
  private lastSecure: boolean;
  private bag?: Map<string, unknown>;
  /** epoch ms the detached session ends at (undefined while attached) */
  detachedUntil?: number;
  /** epoch ms the session was bound (or adopted by this node) */
  readonly since = Date.now();
  readonly traffic = new SessionTraffic();
  readonly facts: Record<string, string | number | boolean> = {};

  constructor(
    private readonly owner: SessionOwner,
    readonly id: string,
    readonly jid: Jid,
    connection: SessionConnection,
  ) {
    this.connection = connection;
    this.lastIp = connection.ip;
    this.lastSecure = connection.secure;
  }

  get status(): SessionStatus {
    return this.status_;
  }

  get closed(): boolean {
    return this.status_ === "closed";
  }

  get ip(): string {
    return this.connection?.ip ?? this.lastIp;
  }

  get secure(): boolean {
    return this.connection?.secure ?? this.lastSecure;
  }

  /** the stream carrying the session now; undefined while detached */
  get currentConnection(): SessionConnection | undefined {
    return this.connection;
  }

  get congested(): boolean {
    return this.connection?.congested ?? false;
  }

  send(stanza: Element): SendOutcome {
    if (this.status_ === "closed") return "refused";
    const filtered = this.owner.runOutgoing(this, stanza);
    if (typeof filtered === "string") return filtered;
    // Detached and no filter took it (stream management queues, when enabled): refused, so the
    // caller stores or bounces it rather than losing it.
    if (!this.connection) return "refused";
    return this.connection.write(filtered);
  }

  /**
   * A stanza the client sent, already checked and stamped by its stream (RFC 6120 §8.1.2.1):
   * the incoming filters, then the router.
   */
  receive(stanza: Element): Promise<void> {
    return this.owner.receive(this, stanza);
  }

  close(error?: StreamError): void {
    if (this.status_ === "closed") return;
    const connection = this.connection;
    this.connection = undefined;
    connection?.close(error);
    void this.owner.end(this, error ? `stream error ${error.condition}` : "closed by server");
  }

  state<T>(key: SessionStateKey<T>): T {
    let value = this.stateBag.get(key.name) as T | undefined;
    if (value === undefined) this.stateBag.set(key.name, (value = key.initial()));
    return value;
  }

  /** module state by key name (session-state.ts); made on first use, as idle sessions hold none */
  get stateBag(): Map<string, unknown> {
    return (this.bag ??= new Map());
  }

  // --- lifecycle, driven by the session table only -------------------------------------

  /** @internal */
  markDetached(until: number): void {
    this.connection = undefined;
    this.status_ = "detached";
    this.detachedUntil = until;
  }

  /** @internal */
  markAttached(connection: SessionConnection): void {
    this.connection = connection;
    this.lastIp = connection.ip;
    this.lastSecure = connection.secure;
    this.status_ = "active";
    this.detachedUntil = undefined;
  }

  /** @internal */
  markClosed(): void {
    this.connection = undefined;
    this.status_ = "closed";
  }
}
