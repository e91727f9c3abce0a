/**
 * XEP-0191 Blocking Command: the blocklist get (§3.1), block (§3.3) and unblock (§3.4, no
 * items = unblock all) with pushes to the user's interested resources, and enforcement in
 * both directions (enforce.ts).
 *
 * Pushes go to every resource that requested the blocklist (§3.3–3.4: "interested" means that,
 * as in Prosody; a client that fetched its blocklist but not its roster still hears of a block
 * made elsewhere). The flag is in the session registry, so every node sees it.
 */
import { type Element, type Jid, NS_BLOCKING, StanzaError, parseJid, x } from "@switchboard/xml";
import { REPLIED, defineModule, option, type OptionsOf, iqResult, markInterested, pushToInterested, type Host, type StanzaEvent } from "@switchboard/core";
import { BlocklistCache, parseItems } from "./blocklist.js";
import { enforceBlocking } from "./enforce.js";

export { NS_BLOCKING_ERRORS } from "./enforce.js";
export { blocklistMatches } from "./blocklist.js";

/** Operator options: `modules.blocking.<option>`. */
export const BLOCKING_OPTIONS = {
  maxItems: option.integer(1, 1_000_000, 1000, "Most JIDs one account may block (XEP-0191); past it a block gets <policy-violation/>."),
  cacheEntries: option.integer(1, 10_000_000, 50_000, "Blocklists kept in memory per node (least recently used leave first)."),
};
export type BlockingOptions = OptionsOf<typeof BLOCKING_OPTIONS>;

export const blockingModule = defineModule({
  name: "blocking",
  spec: "XEP-0191",
  options: BLOCKING_OPTIONS,
  setup(ctx) {
    const { host, options } = ctx;
    const cache = new BlocklistCache(host.store.blocklist, options.cacheEntries);
    ctx.hostFeature(NS_BLOCKING);
    enforceBlocking(ctx, cache);
    // A login reloads the list once, so a change made on another node (or an account
    // re-created under the same name) is never served stale for a whole session.
    ctx.on("session/bound", ({ session }) => void cache.invalidate(session.jid.bare));
    // Cluster mode: every node caches blocklists; a change made on one node is announced over
    // the bus, and a bus reconnect (notices possibly missed) drops everything.
    // The change is confirmed by every live node before the IQ result goes out: a client that
    // unblocks a contact and at once hears from it (the contact's stream on another edge) must
    // not get the stale list applied there.
    const forget = async (owner: string) => {
      cache.invalidate(owner);
      await host
        .announceConfirmed({ type: BLOCKLIST_CHANGED, owner })
        .catch((err) => ctx.log.warn({ err }, "could not announce a blocklist change"));
    };
    const unfollow = cache.follow(host.bus, BLOCKLIST_CHANGED, (m) => m.owner);
    ctx.onUnload(unfollow);

    ctx.iq({ type: "get", xmlns: NS_BLOCKING, name: "blocklist", targets: ["bare"] }, async (ev) => {
      assertOwn(ev);
      markInterested(ev.origin, "blocklist");
      // through the cache that enforces it: one read serves both (a login reloads it at bind)
      const list = [...(await cache.get(ev.from.bare))];
      return x("blocklist", { xmlns: NS_BLOCKING }, list.map((jid) => x("item", { jid })));
    });

    ctx.iq({ type: "set", xmlns: NS_BLOCKING, name: "block", targets: ["bare"] }, async (ev, payload): Promise<typeof REPLIED> => {
      assertOwn(ev);
      const owner = ev.from.bare;
      const jids = parseItems(payload);
      // §3.3: a block without items is a bad request (unlike unblock).
      if (jids.length === 0) throw new StanzaError("bad-request", "block at least one JID");
      const current = await cache.get(owner);
      const fresh = jids.filter((j) => !current.has(j));
      if (current.size + fresh.length > options.maxItems) {
        throw new StanzaError("policy-violation", `a blocklist holds at most ${options.maxItems} JIDs`);
      }
      const added = await host.store.blocklist.add(owner, jids);
      await forget(owner);
      await host.router.reply(ev, iqResult(ev.stanza));
      await pushChange(host, owner, () => x("block", { xmlns: NS_BLOCKING }, jids.map((jid) => x("item", { jid }))));
      await appearOffline(host, ev.from.toBare(), added);
      return REPLIED;
    });

    ctx.iq({ type: "set", xmlns: NS_BLOCKING, name: "unblock", targets: ["bare"] }, async (ev, payload): Promise<typeof REPLIED> => {
      assertOwn(ev);
      const owner = ev.from.bare;
      const jids = parseItems(payload);
      await host.store.blocklist.remove(owner, jids);
      await forget(owner);
      await host.router.reply(ev, iqResult(ev.stanza));
      await pushChange(host, owner, () => x("unblock", { xmlns: NS_BLOCKING }, jids.map((jid) => x("item", { jid }))));
      return REPLIED;
    });
  },
});

const BLOCKLIST_CHANGED = "blocking.changed" as const;

declare module "@switchboard/core" {
  interface ControlMessages {
    /** a user's blocklist changed: drop the cached copy */
    "blocking.changed": { owner: string };
  }
}

/** The blocklist is private: only the account's own resources may read or change it. */
function assertOwn(ev: StanzaEvent): void {
  if (ev.to.bare !== ev.from.bare) throw new StanzaError("service-unavailable");
}

/** §3.3/§3.4: tell every interested resource what changed, so all clients stay in sync. */
async function pushChange(host: Host, owner: string, change: () => Element): Promise<void> {
  await pushToInterested(host, owner, "blocklist", (info) =>
    x("iq", { type: "set", id: `block-${Math.random().toString(36).slice(2, 10)}`, from: owner, to: info.jid }, change()),
  );
}

/**
 * §3.3: once a contact is blocked the user must appear offline to it, so each available
 * resource sends it unavailable presence — only to contacts that were receiving the user's
 * presence (subscription 'from' or 'both'), which is who saw the user online.
 */
async function appearOffline(host: Host, owner: Jid, added: string[]): Promise<void> {
  if (added.length === 0) return;
  const resources = (await host.registry.list(owner.bare)).filter((r) => r.available);
  if (resources.length === 0) return;
  const blocked = added.map((j) => parseJid(j));
  const targets = new Set<string>();
  for (const item of await host.store.roster.list(owner.bare)) {
    if (item.subscription !== "from" && item.subscription !== "both") continue;
    const contact = parseJid(item.jid);
    for (const b of blocked) {
      if (b.full === contact.bare || b.full === contact.domain) targets.add(contact.bare);
      else if (b.bare === contact.bare) targets.add(b.full);
    }
  }
  for (const to of targets) {
    for (const r of resources) await host.router.route(x("presence", { type: "unavailable", from: r.jid, to }));
  }
}
