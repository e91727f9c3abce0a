/**
 * What the presence module remembers per local stream (never in the registry: other nodes need
 * only the availability and last presence, which the registry carries): whether the session has
 * sent initial presence (RFC 6121 §4.2) and where it sent directed presence (§4.6).
 */
import type { LocalSession } from "@switchboard/core";

export interface PresenceSessionState {
  /** initial presence sent and not yet withdrawn by unavailable presence */
  available: boolean;
  /**
   * full or bare JIDs that received directed available presence (§4.6.2), to be told of
   * unavailability; made on first use, as most sessions never send any
   */
  directed?: Set<string>;
}

export class PresenceSessions {
  private readonly states = new WeakMap<LocalSession, PresenceSessionState>();

  of(session: LocalSession): PresenceSessionState {
    let state = this.states.get(session);
    if (!state) this.states.set(session, (state = { available: false }));
    return state;
  }

  /** Ends tracking for a closed stream and returns what it last held. */
  take(session: LocalSession): PresenceSessionState | undefined {
    const state = this.states.get(session);
    this.states.delete(session);
    return state;
  }
}
