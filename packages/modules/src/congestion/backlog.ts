/**
 * What waits for one congested session (docs/architecture.md "Streams", slow receivers):
 * presence held and coalesced in memory (the latest per sender, csi/hold.ts's HeldStanzas, so an
 * unavailable is never lost), and messages in the user's offline storage with XEP-0203 delay
 * stamps, in order.
 *
 * Order is kept across the episode: from the first diverted message until a flush finds the
 * store empty, every newer message for the session goes to the store as well (behind the
 * backlog), even after the queue drained; the flush writes stored messages oldest first and
 * stops as soon as the connection is congested again. A flush ends the backlog only when the
 * store read came back empty and no store write was issued or pending meanwhile, checked in the
 * same turn, so no message can slip past one still on its way to the store.
 *
 * Storage is at least once, like the offline flush (offline/flush.ts): a message is removed
 * from the store after it was written. Past `limits.offlinePerUser` a diverted message is
 * bounced to its sender with `<resource-constraint/>`.
 */
import { parseFrame, tryParseJid, type Element } from "@switchboard/xml";
import { congestionCounter, type CongestionAction, type Host, type LocalSession, type Logger, type OfflineClaim } from "@switchboard/core";
import { HeldStanzas } from "../csi/hold.js";
import { stampDelay } from "../offline/storable.js";
import { CLAIM_TTL_MS, FLUSH_BATCH } from "../offline/flush.js";

/** How soon a flush that found another node delivering this user's messages tries again. */
const CLAIM_RETRY_MS = 200;

export type EpisodeCounts = Record<Exclude<CongestionAction, "refused" | "closed">, number>;

export class Backlog {
  readonly presence = new HeldStanzas();
  /** messages of this session are in the store: newer ones go behind them */
  diverting = false;
  /** what this episode did, for its closing log line */
  counts: EpisodeCounts = { diverted: 0, coalesced: 0, flushed: 0, bounced: 0 };
  private pushes: Promise<void> = Promise.resolve();
  private pending = 0;
  /** store writes issued since the flush's last read */
  private issued = 0;
  private flushing = false;
  private again = false;
  private bounceLogged = false;

  constructor(
    private readonly host: Host,
    private readonly log: Logger,
    private readonly session: LocalSession,
    /** stanzas the flush writes: the filter lets them through, whatever the state */
    private readonly released: WeakSet<Element>,
  ) {}

  /** Sends a message to the store, behind what is there; says "queued" (it is accepted). */
  divert(stanza: Element): "queued" {
    this.diverting = true;
    this.pending++;
    this.issued++;
    this.count("diverted");
    this.pushes = this.pushes.then(() => this.store(stanza)).finally(() => void this.pending--);
    return "queued";
  }

  private async store(stanza: Element): Promise<void> {
    const bare = this.session.jid.bare;
    let kept = false;
    try {
      kept = await this.host.store.offline.push(bare, stampDelay(stanza, this.host.domain, new Date()).toString(), this.host.limits.offlinePerUser);
    } catch (err) {
      this.log.warn({ err, owner: bare }, "congestion: offline storage failed, message bounced");
    }
    if (kept) return;
    this.count("bounced");
    if (!this.bounceLogged) {
      this.bounceLogged = true;
      this.log.info({ jid: this.session.jid.full, cap: this.host.limits.offlinePerUser }, "congestion: offline storage full, diverted messages bounced with resource-constraint");
    }
    const from = tryParseJid(stanza.attrs.from ?? "");
    if (!from) return; // a stanza of the server itself: nobody to tell
    await this.host.router
      .bounce({ stanza, kind: "message", from, to: this.session.jid }, "resource-constraint", "the recipient cannot take messages now and their offline storage is full")
      .catch((err: unknown) => this.log.warn({ err }, "congestion: bounce failed"));
  }

  /** Holds a presence until the queue drains, replacing the sender's previous one. */
  hold(stanza: Element): "queued" | "coalesced" {
    const outcome = this.presence.hold(stanza);
    if (outcome === "coalesced") this.count("coalesced");
    return outcome;
  }

  /** Writes held presence (to a stream that may be gone: stream management keeps it then). */
  writePresence(): void {
    for (const stanza of this.presence.take()) {
      this.released.add(stanza);
      this.session.send(stanza);
    }
  }

  /**
   * The queue drained under half the mark: held presence, then stored messages in order, until
   * the store is empty (the episode ends) or the connection is congested again.
   */
  async flush(): Promise<void> {
    if (this.flushing) return void (this.again = true);
    this.flushing = true;
    let claim: OfflineClaim | undefined;
    try {
      this.writePresence();
      // Without a diversion, stored messages are the offline module's (XEP-0160 §4: after the
      // initial presence), unless its flush stopped for this congestion: the session is available.
      if (!this.diverting && !(await this.available())) return;
      const offline = this.host.store.offline;
      if (offline.claimDelivery) {
        claim = await offline.claimDelivery(this.session.jid.bare, CLAIM_TTL_MS);
        if (!claim) {
          // Another node delivers this user's stored messages (a resource coming online): ours follow.
          const retry = setTimeout(() => void this.flush(), CLAIM_RETRY_MS);
          retry.unref();
          return;
        }
      }
      await this.deliverStored(claim);
    } catch (err) {
      this.log.warn({ err, jid: this.session.jid.full }, "congestion: flush of diverted messages failed; they stay stored");
    } finally {
      await claim?.release().catch(() => {});
      this.flushing = false;
      if (this.again) {
        this.again = false;
        if (!this.session.congested) void this.flush();
      }
    }
  }

  private async available(): Promise<boolean> {
    const info = await this.host.registry.get(this.session.jid.full);
    return !!info && info.sessionId === this.session.id && info.available === true;
  }

  private async deliverStored(claim?: OfflineClaim): Promise<void> {
    const bare = this.session.jid.bare;
    const offline = this.host.store.offline;
    for (;;) {
      if (this.session.closed || this.session.congested) return;
      this.issued = 0;
      const batch = await offline.peek(bare, FLUSH_BATCH);
      if (batch.length === 0) {
        // Same turn as the read's answer: nothing can have been diverted since the check.
        if (this.pending === 0 && this.issued === 0) return this.ended();
        await this.pushes;
        continue;
      }
      const done: string[] = [];
      let stop = false;
      for (const stored of batch) {
        let stanza: Element;
        try {
          stanza = parseFrame(stored.xml);
        } catch {
          done.push(stored.id); // can never be delivered; it would block the rest
          continue;
        }
        this.released.add(stanza);
        if (this.session.send(stanza) === "refused") {
          stop = true;
          break;
        }
        done.push(stored.id);
        if (this.session.congested) {
          stop = true;
          break;
        }
      }
      if (done.length > 0) {
        await offline.remove(bare, done);
        this.count("flushed", done.length);
      }
      if (stop) return;
      if (claim && !(await claim.renew())) return;
    }
  }

  private ended(): void {
    this.diverting = false;
    const counts = this.counts;
    this.counts = { diverted: 0, coalesced: 0, flushed: 0, bounced: 0 };
    this.bounceLogged = false;
    this.log.info({ jid: this.session.jid.full, ...counts }, "congestion: backlog delivered, session writes directly again");
  }

  private count(action: keyof EpisodeCounts, n = 1): void {
    this.counts[action] += n;
    congestionCounter(this.host).add(n, { action });
  }
}
