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
import { parseFrame, type Element } from "@switchboard/xml";
import type { Host, Logger } from "@switchboard/core";

/** Stanzas read per round trip; also the most that can be repeated after a crash. */
export const FLUSH_BATCH = 100;

export async function flushOffline(host: Host, fullJid: string, sessionId: string, log: Logger): Promise<void> {
  const target = await host.registry.get(fullJid);
  if (!target || target.sessionId !== sessionId) return;
  const bare = fullJid.split("/")[0]!;
  const offline = host.store.offline;
  const removed = new Set<string>();
  for (;;) {
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
      if (!(await host.deliver(target, stanza))) {
        gone = true;
        break;
      }
      done.push(stored.id);
    }
    if (done.length > 0) await offline.remove(bare, done);
    for (const id of done) removed.add(id);
    if (gone) {
      log.info({ owner: bare }, "resource unreachable during offline delivery, undelivered messages kept");
      return;
    }
  }
}
