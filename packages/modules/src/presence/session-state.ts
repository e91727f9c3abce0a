/**
 * What the presence module remembers per session (declared session state, so a session that
 * moves to another stream or node keeps it): whether it has sent initial presence (RFC 6121
 * §4.2) and where it sent directed presence (§4.6). Other nodes need only the availability and
 * last presence, which the registry carries.
 */
import { sessionState } from "@switchboard/core";

export interface PresenceSessionState {
  /** initial presence sent and not yet withdrawn by unavailable presence */
  available: boolean;
  /**
   * full or bare JIDs that received directed available presence (§4.6.2), to be told of
   * unavailability; made on first use, as most sessions never send any
   */
  directed?: Set<string>;
}

export const PRESENCE_STATE = sessionState<PresenceSessionState>("presence", () => ({ available: false }), {
  save: (state) => ({ available: state.available, directed: state.directed ? [...state.directed] : undefined }),
  load: (saved) => {
    const raw = saved as { available?: unknown; directed?: unknown };
    const directed = Array.isArray(raw.directed) ? new Set(raw.directed.filter((j): j is string => typeof j === "string")) : undefined;
    return { available: raw.available === true, directed };
  },
});
