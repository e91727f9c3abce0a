import type { Element, Jid, StreamError } from "@switchboard/xml";

/**
 * A stream held by this process (c2s over TCP, TLS or WebSocket). Modules see only this
 * surface; per-module state lives in the module (WeakMap keyed by session), and state other
 * nodes must see goes to the SessionRegistry.
 */
export interface LocalSession {
  readonly id: string;
  /** full JID once bound */
  readonly jid: Jid;
  /** peer address, for per-IP limits and logs */
  readonly ip: string;
  readonly secure: boolean;
  /** Writes a stanza to the peer, subject to the outbound buffer policy. */
  send(stanza: Element): void;
  /** Closes the stream, with a stream error when given. */
  close(error?: StreamError): void;
  readonly closed: boolean;
}
