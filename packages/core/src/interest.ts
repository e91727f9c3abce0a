/**
 * "Interested resources": a resource that has fetched a list (its roster, RFC 6121 §2.1.6; its
 * blocklist, XEP-0191 §3.3) receives pushes when that list changes, from whichever node made the
 * change. This is the one helper that marks it and pushes to it.
 *
 * The mark is the session's own declared state, kept where its stream is (and moved with it on
 * resumption), not a registry write: a login that fetches roster and blocklist used to cost two
 * Redis writes for it (issue 10, cheaper logins). A push therefore goes to every resource of the
 * user: a stream on this node is checked here; one on another node gets the push with the
 * interest in a bus header (`interest`; `sb-` names are reserved for the bus codec), and that
 * node drops it unless its session asked for the list (bus-receiver.ts). Pushes are rare (a
 * list changes); logins are not.
 *
 * COMPAT: a node of an earlier version checks the registry's `interested` / `ext.<interest>`
 * flags, which this version no longer writes, so during a rolling upgrade a change made on an
 * old node reaches sessions on new nodes only at their next fetch; the flags still set by old
 * nodes' sessions are honoured here.
 */
import type { Element } from "@switchboard/xml";
import type { Host } from "./host.js";
import type { BusHeaders, SessionInfo } from "./ports.js";
import type { LocalSession } from "./session.js";
import { sessionState } from "./session-state.js";
import { delivered } from "./delivery.js";

/** roster: RFC 6121 §2.1.6; blocklist: XEP-0191 §3.3–3.4 */
export type Interest = "roster" | "blocklist";

/** The bus header naming the list a pushed stanza belongs to. */
export const INTEREST_HEADER = "interest";

/** Which lists a session fetched (declared session state: kept across resumption). */
export const INTEREST_STATE = sessionState<Partial<Record<Interest, boolean>>>("interest", () => ({}));

/** The registry flags an earlier version wrote (see COMPAT above). */
export function isInterested(info: SessionInfo, interest: Interest): boolean {
  return interest === "roster" ? info.interested : info.ext?.[interest] === true;
}

/** Whether a stream held here asked for `interest` (an unknown interest name: no). */
export function sessionInterested(session: LocalSession, interest: string): boolean {
  return (interest === "roster" || interest === "blocklist") && session.state(INTEREST_STATE)[interest] === true;
}

/** Marks the session that fetched a list as interested in it: local state only, no I/O. */
export function markInterested(session: LocalSession | undefined, interest: Interest): void {
  if (session) session.state(INTEREST_STATE)[interest] = true;
}

/**
 * Sends a push (built per resource, so no element is shared between deliveries) to every
 * resource of `owner` interested in `interest`; returns how many were handed on (a push to
 * another node counts, though that node may find its session did not ask).
 */
export async function pushToInterested(host: Host, owner: string, interest: Interest, build: (to: SessionInfo) => Element): Promise<number> {
  let reached = 0;
  const headers: BusHeaders = { [INTEREST_HEADER]: interest };
  for (const info of await host.registry.list(owner)) {
    if (info.nodeId === host.nodeId && info.detachedUntil === undefined) {
      const session = host.sessions.get(info.sessionId);
      if (!session || !(sessionInterested(session, interest) || isInterested(info, interest))) continue;
      if (delivered(await host.deliver(info, build(info)))) reached++;
      continue;
    }
    // another node's stream decides there; a detached one gets it with its queue (resumption)
    if (delivered(await host.deliver(info, build(info), { headers }))) reached++;
  }
  return reached;
}
