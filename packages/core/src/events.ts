import type { Element, Jid } from "@switchboard/xml";
import type { AlertRaisedEvent } from "./alerts.js";
import type { LimitDecision, LimitPolicy } from "./limits.js";
import type { ComponentEnvelope, SessionInfo } from "./ports.js";
import type { LocalSession } from "./session.js";

export type StanzaKind = "message" | "presence" | "iq";

/** A stanza on its way through the router. `from` is always server-stamped. */
export interface StanzaEvent {
  /**
   * The stanza. Never changed in place (it may be on its way to several places); a `stanza/out`
   * handler that must alter what is routed puts a new element here (carbons leaves out <private/>).
   */
  stanza: Element;
  kind: StanzaKind;
  from: Jid;
  to: Jid;
  /** the local stream it came from, when it came from a client of this node */
  origin?: LocalSession;
}

/** A stanza about to be written to one resource (local or remote node). */
export interface DeliverEvent {
  stanza: Element;
  target: SessionInfo;
}

export interface SessionEvent {
  session: LocalSession;
}

export interface CongestionEvent extends SessionEvent {
  state: "congested" | "relieved";
}

export interface ClosedSessionEvent extends SessionEvent {
  reason: string;
}

/**
 * The events of the routing core. Destination events are named `<kind>/<target>`, where
 * target is `host` (the server domain itself), `bare` (a local account's bare JID) or `full`
 * (a resource), mirroring RFC 6121 §8.5 delivery rules.
 *
 * The map is open: a module adds its own events by augmenting this interface
 * (`declare module "@switchboard/core" { interface CoreEvents { "muc/joined": … } }`), and
 * fires them on `host.hooks` like any other.
 */
export interface CoreEvents {
  /** every stanza a local client sends, after stamping, before routing (limits, blocking, carbons) */
  "stanza/out": StanzaEvent;
  /** presence without 'to' from a client: broadcast / initial presence (RFC 6121 §4.2, §4.4) */
  "presence/self": StanzaEvent;
  "message/host": StanzaEvent;
  "message/bare": StanzaEvent;
  "message/full": StanzaEvent;
  "presence/host": StanzaEvent;
  "presence/bare": StanzaEvent;
  "presence/full": StanzaEvent;
  "iq/host": StanzaEvent;
  "iq/bare": StanzaEvent;
  "iq/full": StanzaEvent;
  /** a stanza for a domain this node does not serve */
  "route/remote": StanzaEvent;
  /** a stanza for a hosted component's domain (host.routes), e.g. MUC */
  "route/component": ComponentStanzaEvent;
  /** about to write to one resource; a handler returning true suppresses the delivery */
  "stanza/deliver": DeliverEvent;
  /**
   * A chat or normal message to an existing local account that no resource may receive now
   * (RFC 6121 §8.5.2.1.1 "the server MAY store the message"). `to` is the recipient's bare JID
   * (the stanza keeps its original 'to'). A handler returns true when it took responsibility —
   * it stored the message (offline storage, XEP-0160) or answered the sender itself (a quota
   * error). When none does, the message module bounces <service-unavailable/> (or drops a
   * standalone chat state): an undeliverable message is never lost in silence.
   */
  "message/undeliverable": StanzaEvent;
  /** a resource was bound and its session opened (session-table.ts) */
  "session/bound": SessionEvent;
  /** the session ended: the resource is unbound (unavailable presence, cleanup) */
  "session/closed": ClosedSessionEvent;
  /**
   * the stream carrying a session is gone; a handler that keeps the session for a resumption
   * calls host.sessions.detach() and returns true, otherwise the session ends
   */
  "session/connection-lost": ConnectionLostEvent;
  /** a session lost its stream and waits (until its deadline) to be resumed */
  "session/detached": SessionEvent;
  /**
   * a stanza for a session that has no stream now and no live node holding it (detached, its
   * state kept outside the edges): the handler that keeps such sessions' queues returns true
   * when it took the stanza; otherwise the caller falls back as for an offline resource
   */
  "session/queue": DeliverEvent;
  /** another stream (here or on another node) resumed this session: drop what is held for it here */
  "session/moved": SessionEvent;
  /**
   * the session's connection became congested (its outbound queue passed the high-water mark)
   * or relieved (back under half of it), core/congestion.ts; a congested connection that makes
   * no progress is cut, which arrives as `session/connection-lost`
   */
  "session/congestion": CongestionEvent;
  /** a detached session got a stream again, on this node or adopted from another */
  "session/attached": SessionEvent;
  /**
   * the process is about to stop (SIGTERM, SIGINT): modules hand on what they can before the
   * streams are closed (stream management asks for acks and cuts the connections so clients
   * resume elsewhere); `deadline` is when the drain ends (epoch ms)
   */
  "host/draining": { deadline: number };
  /**
   * the cluster presumed this node dead and purged it (it could not reach Redis for longer than
   * its liveness TTL): what it served for the cluster may belong to others now (MUC rooms)
   */
  "host/fenced": Record<string, never>;
  /**
   * sessions of a dead node that were kept for a resumption instead of being purged (cluster
   * mode): their resumption state is theirs to take over
   */
  "session/orphaned": PurgedSessionEvent;
  /** a detached session's resource was bound by a new stream: the waiting session ends now */
  "session/replaced": PurgedSessionEvent;
  /**
   * this node is about to confirm to other nodes what it handled of theirs (bus-ledger.ts):
   * a module that makes delivered stanzas durable in batches (stream management's queue in
   * the resumption store) finishes the batch first, so nothing confirmed is lost with this node
   */
  "bus/before-receipts": Record<string, never>;
  /** an envelope for a hosted component arrived from another node; its handler returns true */
  "bus/component": ComponentBusEvent;
  /**
   * a session of another node was removed because that node died (cluster mode); modules clean
   * up after it as if the stream had closed (unavailable presence to contacts)
   */
  "session/purged": PurgedSessionEvent;
  /**
   * a limit policy refused something (host.rateLimits): fired once per refusal, after the
   * decision, for alerts and the admin tools; handlers cannot undo the refusal
   */
  "limit/exceeded": LimitExceededEvent;
  /** this node raised an alert (host.alerts): the wiring publishes it on the bus and the webhook */
  "alert/raised": AlertRaisedEvent;
}

export interface ConnectionLostEvent extends ClosedSessionEvent {
  /** the connection went away without the XML stream being closed by either side */
  abrupt: boolean;
}

export interface ComponentStanzaEvent extends StanzaEvent {
  /** the component's route name */
  component: string;
}

export interface ComponentBusEvent {
  envelope: ComponentEnvelope;
}

export interface PurgedSessionEvent {
  info: SessionInfo;
}

export interface LimitExceededEvent {
  decision: LimitDecision;
  /** the refusing policy as defined (its scope, what its keys are, the condition it maps to) */
  policyDef: LimitPolicy;
}
