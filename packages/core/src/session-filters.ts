/**
 * Filters on what sessions read and write (ARCHITECTURE.md "A session pipeline"): modules count
 * (stream management), hold (CSI), coalesce (slow receivers), copy (the traffic tap) and account
 * bytes here instead of each reaching into the stream. Chains are registered once per host and
 * run for every session, in band order (hooks.ts); a filter that cares about some sessions only
 * looks at the session's own state.
 *
 * - outgoing: `(session, stanza) → stanza | outcome`. Returning an element passes it on (a new
 *   element when it must differ: never change the one given, another resource may get it too);
 *   returning an outcome ends the write there ("queued", "coalesced", "refused").
 * - incoming: `(session, stanza) → stanza | "drop"`, before the router sees what a client sent.
 */
import type { Element } from "@switchboard/xml";
import { hookPriority, type HookPosition } from "./hooks.js";
import type { LocalSession, SendOutcome } from "./session.js";

export type OutgoingFilter = (session: LocalSession, stanza: Element) => Element | SendOutcome;
export type IncomingFilter = (session: LocalSession, stanza: Element) => Element | "drop";

interface Entry<F> {
  filter: F;
  priority: number;
  seq: number;
}

class Chain<F> {
  entries: Entry<F>[] = [];
  private seq = 0;

  add(filter: F, position?: HookPosition): () => void {
    const entry = { filter, priority: hookPriority(position), seq: this.seq++ };
    this.entries = [...this.entries, entry].sort((a, b) => b.priority - a.priority || a.seq - b.seq);
    return () => {
      this.entries = this.entries.filter((e) => e !== entry);
    };
  }
}

export class SessionFilters {
  private readonly out = new Chain<OutgoingFilter>();
  private readonly in = new Chain<IncomingFilter>();

  outgoing(filter: OutgoingFilter, position?: HookPosition): () => void {
    return this.out.add(filter, position);
  }

  incoming(filter: IncomingFilter, position?: HookPosition): () => void {
    return this.in.add(filter, position);
  }

  runOutgoing(session: LocalSession, stanza: Element): Element | SendOutcome {
    let current = stanza;
    for (const { filter } of this.out.entries) {
      const result = filter(session, current);
      if (typeof result === "string") return result;
      current = result;
    }
    return current;
  }

  runIncoming(session: LocalSession, stanza: Element): Element | "drop" {
    let current = stanza;
    for (const { filter } of this.in.entries) {
      const result = filter(session, current);
      if (result === "drop") return result;
      current = result;
    }
    return current;
  }
}
