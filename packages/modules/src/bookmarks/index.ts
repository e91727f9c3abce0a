/**
 * XEP-0411 Bookmarks Conversion: bookmarks a client keeps the old way (XEP-0048 in XEP-0049
 * private XML) and those a client keeps the new way (XEP-0402 PEP items) are one list. When an
 * account stores `storage:bookmarks`, its `urn:xmpp:bookmarks:1` node is brought to the same
 * rooms (published and retracted items notified as any); when it publishes to, retracts from or
 * deletes that node, its private `storage:bookmarks` is rewritten from the node's items (other
 * children such as `<url/>` kept). Both writes go to the store directly, so neither fires the
 * other again. Advertised as `urn:xmpp:bookmarks:1#compat` (XEP-0402 §5.3).
 */
import { x } from "@switchboard/xml";
import { defineModule, type Host, type Logger } from "@switchboard/core";
import { parsePayload } from "../private/payload.js";
import { pepLimits } from "../pep/index.js";
import { broadcastEvent, itemElement, parseOwn } from "../pep/notify.js";
import { keptItems } from "../pep/node.js";
import { NS_BOOKMARKS, NS_BOOKMARKS_LEGACY, fromItem, fromLegacy, toItemPayload, toLegacy } from "./convert.js";

export const bookmarksCompatModule = defineModule({
  name: "bookmarks",
  spec: "XEP-0411",
  options: {},
  setup(ctx) {
    const { host, log } = ctx;
    ctx.accountFeature(`${NS_BOOKMARKS}#compat`);
    // The request that changed one side has succeeded whatever the mirror does: a failure here
    // is logged, not turned into an error for a write that was made.
    const mirror = (what: string, owner: string, run: () => Promise<void>) =>
      run().catch((err: unknown) => log.warn({ err, jid: owner }, `bookmarks not mirrored ${what}`));
    ctx.on("private/stored", async ({ owner, namespaces }) => {
      if (namespaces.includes(NS_BOOKMARKS_LEGACY)) await mirror("to PEP", owner, () => mirrorToPep(host, owner, log));
    }, { band: "after" });
    ctx.on("pep/changed", async ({ owner, node }) => {
      if (node === NS_BOOKMARKS) await mirror("to private XML", owner, () => mirrorToPrivate(host, owner, log));
    }, { band: "after" });
  },
});

/** Largest legacy payload read back (the private module's own limit is checked when it is stored). */
const READ_LIMIT = 16 * 1024 * 1024;

async function mirrorToPep(host: Host, owner: string, log: Logger): Promise<void> {
  const limits = pepLimits(host);
  const stored = await host.store.privateXml.get(owner, NS_BOOKMARKS_LEGACY);
  if (!limits || stored === undefined) return;
  const storage = parsePayload(stored, READ_LIMIT).find((el) => el.name === "storage");
  if (!storage) return;
  const wanted = new Map(fromLegacy(storage).map((b) => [b.jid, b]));
  let config = await host.store.pep.node(owner, NS_BOOKMARKS);
  if (!config) {
    // XEP-0402 §3's node: private, as many items as allowed, no last item pushed
    const fresh = { accessModel: "whitelist" as const, maxItems: limits.maxItemsPerNode, persistItems: true, notifyRetract: true, sendLastPublishedItem: "never" as const };
    const made = await host.store.pep.create(owner, NS_BOOKMARKS, fresh, limits.maxNodesPerUser);
    if (made === "limit") return void log.info({ jid: owner }, "legacy bookmarks not mirrored to PEP: node limit reached");
    config = made === "created" ? fresh : await host.store.pep.node(owner, NS_BOOKMARKS);
    if (!config) return;
  }
  const held = new Map((await host.store.pep.items(owner, NS_BOOKMARKS)).map((i) => [i.id, i]));
  for (const [jid, bookmark] of wanted) {
    const old = held.get(jid);
    const previous = old?.xml ? fromItem(jid, parseOwn(old.xml)) : undefined;
    const payload = toItemPayload({ ...bookmark, extensions: previous?.extensions });
    if (old?.xml === payload.toString()) continue;
    const item = { id: jid, xml: payload.toString(), publisher: owner, at: Date.now() };
    await host.store.pep.publish(owner, NS_BOOKMARKS, item, keptItems(config, limits));
    await broadcastEvent(host, owner, NS_BOOKMARKS, config, x("items", { node: NS_BOOKMARKS }, itemElement(item)));
  }
  for (const id of held.keys()) {
    if (wanted.has(id) || !(await host.store.pep.retract(owner, NS_BOOKMARKS, id))) continue;
    if (config.notifyRetract) await broadcastEvent(host, owner, NS_BOOKMARKS, config, x("items", { node: NS_BOOKMARKS }, x("retract", { id })));
  }
}

async function mirrorToPrivate(host: Host, owner: string, log: Logger): Promise<void> {
  const items = (await host.store.pep.items(owner, NS_BOOKMARKS)).reverse();
  const bookmarks = items.filter((i) => i.xml).map((i) => fromItem(i.id, parseOwn(i.xml)));
  const stored = await host.store.privateXml.get(owner, NS_BOOKMARKS_LEGACY);
  let previous;
  try {
    previous = stored === undefined ? undefined : parsePayload(stored, READ_LIMIT).find((el) => el.name === "storage");
  } catch (err) {
    log.warn({ err }, "stored legacy bookmarks do not parse; rewritten from PEP");
  }
  const xml = toLegacy(bookmarks, previous).toString();
  // one namespace the account may already hold; a new one is let past the private-XML quota,
  // since the account asked for bookmarks, not for another namespace
  await host.store.privateXml.set(owner, [{ namespace: NS_BOOKMARKS_LEGACY, xml }], Number.MAX_SAFE_INTEGER);
}
