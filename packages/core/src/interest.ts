/**
 * "Interested resources": a resource that has fetched a list (its roster, RFC 6121 §2.1.6; its
 * blocklist, XEP-0191 §3.3) receives pushes when that list changes, from whichever node made the
 * change. The flag lives in the session registry so every node sees it; this is the one helper
 * that marks it and pushes to it.
 */
import type { Element } from "@switchboard/xml";
import type { Host } from "./host.js";
import type { SessionInfo } from "./ports.js";
import { delivered } from "./delivery.js";

/** roster: RFC 6121 §2.1.6 (the registry's `interested`); blocklist: XEP-0191 §3.3–3.4 */
export type Interest = "roster" | "blocklist";

export function isInterested(info: SessionInfo, interest: Interest): boolean {
  return interest === "roster" ? info.interested : info.ext?.[interest] === true;
}

/**
 * Marks the resource `fullJid` (stream `sessionId`, when known) as interested. A registry write
 * only the first time: fetching the list again costs nothing.
 */
export async function markInterested(host: Host, fullJid: string, interest: Interest, sessionId?: string): Promise<void> {
  const info = await host.registry.get(fullJid);
  if (!info || (sessionId !== undefined && info.sessionId !== sessionId) || isInterested(info, interest)) return;
  const patch = interest === "roster" ? { interested: true } : { ext: { ...info.ext, [interest]: true } };
  await host.registry.update(fullJid, info.sessionId, patch);
}

/**
 * Sends a push (built per resource, so no element is shared between deliveries) to every
 * resource of `owner` interested in `interest`; returns how many were reached.
 */
export async function pushToInterested(host: Host, owner: string, interest: Interest, build: (to: SessionInfo) => Element): Promise<number> {
  let reached = 0;
  for (const info of await host.registry.list(owner)) {
    if (!isInterested(info, interest)) continue;
    if (delivered(await host.deliver(info, build(info)))) reached++;
  }
  return reached;
}
