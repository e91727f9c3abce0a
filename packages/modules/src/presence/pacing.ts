/**
 * Presence broadcasts paced per session (`limits.presencePerSecond`, burst `limits.presenceBurst`):
 * a client that changes its status faster than that (a bot, a flapping mobile) does not make
 * every contact receive every change. Changes past the allowance are coalesced — the latest
 * waits and goes out when the allowance is back, replacing any it arrived after — so contacts
 * get the latest, never a flood, and never miss the last one. Initial presence and unavailable
 * presence are never held and spend nothing (an unavailable drops what waits). The allowance is the limiter's
 * policy `presence-broadcast` keyed by full JID (core limits: a refusal is a log line, a metric
 * and a `limit/exceeded` event).
 */
import type { Element } from "@switchboard/xml";
import type { Host, LocalSession } from "@switchboard/core";

export const PRESENCE_POLICY = "presence-broadcast";

interface Waiting {
  stanza: Element;
  timer: NodeJS.Timeout;
}

export class PresencePacing {
  private readonly waiting = new WeakMap<LocalSession, Waiting>();

  constructor(
    private readonly host: Host,
    private readonly broadcast: (session: LocalSession, stanza: Element) => Promise<void>,
  ) {}

  /**
   * A subsequent available presence (RFC 6121 §4.4): true when it waits (this module sends it
   * later), false when the caller broadcasts it now.
   */
  hold(session: LocalSession, stanza: Element): boolean {
    const waiting = this.waiting.get(session);
    if (waiting) {
      waiting.stanza = stanza; // the latest replaces the one that waited
      return true;
    }
    const decision = this.host.rateLimits.check(PRESENCE_POLICY, session.jid.full);
    if (decision.allowed) return false;
    const timer = setTimeout(() => void this.release(session), Math.max(1, Math.min(decision.retryAfterMs, 60_000)));
    timer.unref();
    this.waiting.set(session, { stanza, timer });
    return true;
  }

  /** Initial or unavailable presence, or the stream's end: nothing waits any more. */
  drop(session: LocalSession): void {
    const waiting = this.waiting.get(session);
    if (!waiting) return;
    clearTimeout(waiting.timer);
    this.waiting.delete(session);
  }

  private async release(session: LocalSession): Promise<void> {
    const waiting = this.waiting.get(session);
    if (!waiting) return;
    this.waiting.delete(session);
    if (session.closed) return;
    // the allowance is back: this one spends it (a later change waits for the next token)
    this.host.limiter.hit(PRESENCE_POLICY, session.jid.full);
    await this.broadcast(session, waiting.stanza).catch((err: unknown) => this.host.log.warn({ err, jid: session.jid.full }, "could not send a paced presence"));
  }
}
