/**
 * XEP-0160 §4 delivery: stored messages go to the first resource that sends initial available
 * presence with non-negative priority, in storage order.
 *
 * Nothing accepted is lost: messages are read without removing them (`peek`) and removed only
 * once delivered (`remove`). If the resource goes away mid-way, the rest simply stays stored,
 * still in order. The price is at-least-once delivery: if this process dies between delivering a
 * batch and removing it, that batch is delivered again on the next login. For offline storage a
 * rare duplicate (clients can drop it by stanza id) is the right side to err on; a read-and-delete
 * step instead loses the messages whenever the connection to the store dies after the delete.
 */
import { bareOf, parseFrame, type Element } from "@switchboard/xml";
import { delivered, type Host, type Logger, type OfflineClaim } from "@switchboard/core";

/** Stanzas read per round trip; also the most that can be repeated after a crash. */
export const FLUSH_BATCH = 100;

/** How long a delivery claim lasts unless renewed (renewed after every batch). */
export const CLAIM_TTL_MS = 30_000;
/** How long a flush waits for another node's flush of the same user to finish. */
export const CLAIM_WAIT_MS = 10_000;
const CLAIM_POLL_MS = 100;

/**
 * Delivers `fullJid`'s stored messages. With a store shared by several nodes it first claims the
 * user's delivery (OfflineStore.claimDelivery), so a second resource coming online on another
 * node at the same moment waits, then finds the store empty (XEP-0160 §4: the first resource
 * gets them) or whatever the first could not deliver. Within one node the offline module runs a
 * user's flushes one after another.
 */
export async function flushOffline(host: Host, fullJid: string, sessionId: string, log: Logger): Promise<void> {
  const offline = host.store.offline;
  if (!offline.claimDelivery) return deliverStored(host, fullJid, sessionId, log);
  const bare = bareOf(fullJid);
  // Most logins find nothing stored: one read instead of claim, peek and release.
  if ((await offline.count(bare)) === 0) return;
  const deadline = Date.now() + CLAIM_WAIT_MS;
  let claim: OfflineClaim | undefined;
  while (!(claim = await offline.claimDelivery(bare, CLAIM_TTL_MS))) {
    if (Date.now() > deadline) {
      log.info({ owner: bare }, "another node kept delivering this user's offline messages; not flushing here");
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, CLAIM_POLL_MS));
  }
  try {
    await deliverStored(host, fullJid, sessionId, log, claim);
  } finally {
    await claim.release().catch((err: unknown) => log.warn({ err, owner: bare }, "could not release the offline delivery claim"));
  }
}

async function deliverStored(host: Host, fullJid: string, sessionId: string, log: Logger, claim?: OfflineClaim): Promise<void> {
  const target = await host.registry.get(fullJid);
  if (!target || target.sessionId !== sessionId) return;
  const bare = bareOf(fullJid);
  const offline = host.store.offline;
  const removed = new Set<string>();
  for (;;) {
    // Another node may deliver once the claim lapsed (a stalled batch): stop rather than race it.
    if (claim && removed.size > 0 && !(await claim.renew())) {
      log.warn({ owner: bare }, "offline delivery claim lost mid-flush; the rest is left to its new holder");
      return;
    }
    const batch = await offline.peek(bare, FLUSH_BATCH);
    if (batch.length === 0) return;
    // A store that did not remove what we acknowledged would make this loop redeliver forever.
    if (batch.some((stored) => removed.has(stored.id))) {
      log.warn({ owner: bare }, "offline store returned already removed messages, flush stopped");
      return;
    }
    const done: string[] = [];
    let gone = false;
    for (const stored of batch) {
      // A slow receiver (modules/congestion): the rest stays stored, in order, and that module
      // flushes it once the connection's queue drained.
      if (host.sessions.get(sessionId)?.congested) {
        gone = true;
        break;
      }
      let stanza: Element;
      try {
        stanza = parseFrame(stored.xml);
      } catch (err) {
        // It can never be delivered; keeping it would block everything stored after it.
        log.warn({ err, owner: bare }, "unparseable offline message discarded");
        done.push(stored.id);
        continue;
      }
      // true also covers a deliberate veto (blocking): keeping it would only repeat it.
      if (!delivered(await host.deliver(target, stanza))) {
        gone = true;
        break;
      }
      done.push(stored.id);
    }
    if (done.length > 0) await offline.remove(bare, done);
    for (const id of done) removed.add(id);
    host.metrics.counter("switchboard_offline_messages_total", { help: "Offline storage: messages stored, delivered from it, refused past the per-user cap", labels: ["event"] }).add(done.length, { event: "delivered" });
    if (gone) {
      log.info({ owner: bare }, "resource unreachable or congested during offline delivery, undelivered messages kept");
      return;
    }
  }
}
