/**
 * XEP-0160 §4 delivery: stored messages go to the first resource that sends initial available
 * presence with non-negative priority, in storage order. Nothing stored is lost: when the
 * resource disappears mid-way the rest is put back.
 */
import { parseFrame, type Element } from "@switchboard/xml";
import type { Host } from "@switchboard/core";
import type { Logger } from "@switchboard/core";

/** Putting messages back must never fail on the quota: they were accepted already. */
const NO_CAP = Number.MAX_SAFE_INTEGER;

export async function flushOffline(host: Host, fullJid: string, sessionId: string, log: Logger): Promise<void> {
  const target = await host.registry.get(fullJid);
  if (!target || target.sessionId !== sessionId) return;
  const bare = fullJid.split("/")[0]!;
  const stored = await host.store.offline.takeAll(bare);
  for (let i = 0; i < stored.length; i++) {
    const xml = stored[i]!;
    let stanza: Element;
    try {
      stanza = parseFrame(xml);
    } catch (err) {
      log.warn({ err, owner: bare }, "unparseable offline message discarded");
      continue;
    }
    // true also covers a deliberate veto (blocking): storing it again would only repeat it.
    if (await host.deliver(target, stanza)) continue;
    await putBack(host, bare, stored.slice(i));
    log.info({ owner: bare, kept: stored.length - i }, "resource unreachable during offline delivery, messages kept");
    return;
  }
}

async function putBack(host: Host, bare: string, rest: string[]): Promise<void> {
  for (const xml of rest) await host.store.offline.push(bare, xml, NO_CAP);
}
