/**
 * Stream-level elements that modules handle (ARCHITECTURE.md "A session pipeline"): XEP-0198
 * `<enable/>`, `<r/>`, `<a/>`, `<resume/>`, XEP-0352 `<active/>`/`<inactive/>`, later SASL2 —
 * elements that are not stanzas and arrive in a given stream state. A module registers a handler
 * by (states, namespace, name); the stream engine asks here before its own policy, so an element
 * nobody registered keeps the stream's default answer.
 */
import type { Element, StreamError } from "@switchboard/xml";
import type { LocalSession, SessionConnection } from "./session.js";

/** The states of a stream (the engine's transitions are the only way they change). */
export type StreamState = "connected" | "secured" | "authenticated" | "bound" | "closed";

/** What a stream-level handler may do with the stream that received the element. */
export interface StreamElementContext {
  readonly state: StreamState;
  /** peer address and whether the connection is encrypted */
  readonly ip: string;
  readonly secure: boolean;
  /** the authenticated account (bare JID), from "authenticated" on */
  readonly account?: string;
  /** the session the stream carries, once bound */
  readonly session?: LocalSession;
  /** Writes a stream-level element (not a stanza: it passes no session filter). */
  send(el: Element): void;
  /** Ends the stream, with a stream error when given. */
  close(error?: StreamError): void;
  /**
   * Takes the stream from "authenticated" to "bound" carrying a session that already exists (a
   * XEP-0198 resumption): `take` is given this stream as a connection and returns the session,
   * or undefined when it cannot be had (the stream stays authenticated). Absent where the
   * stream's policy has no sessions to resume.
   */
  resumeSession?(take: (connection: SessionConnection) => Promise<LocalSession | undefined>): Promise<LocalSession | undefined>;
}

export type StreamElementHandler = (ctx: StreamElementContext, el: Element) => void | Promise<void>;

export interface StreamElementSpec {
  states: readonly StreamState[];
  xmlns: string;
  name: string;
}

export class StreamHandlers {
  private readonly handlers = new Map<string, StreamElementHandler>();

  private static key(state: StreamState, xmlns: string, name: string): string {
    return `${state} ${xmlns} ${name}`;
  }

  /** Registers a handler; two modules cannot claim the same element in the same state. */
  handle(spec: StreamElementSpec, handler: StreamElementHandler): () => void {
    const keys = spec.states.map((state) => StreamHandlers.key(state, spec.xmlns, spec.name));
    for (const k of keys) if (this.handlers.has(k)) throw new Error(`a stream-level handler for ${k} is already registered`);
    for (const k of keys) this.handlers.set(k, handler);
    return () => {
      for (const k of keys) if (this.handlers.get(k) === handler) this.handlers.delete(k);
    };
  }

  find(state: StreamState, el: Element): StreamElementHandler | undefined {
    if (this.handlers.size === 0) return undefined;
    return this.handlers.get(StreamHandlers.key(state, el.attrs.xmlns ?? "", el.name));
  }
}
