/**
 * XEP-0313 §7 archiving preferences: `<prefs default='always|never|roster'>` with <always/> and
 * <never/> lists of JIDs. A JID on <never/> is never archived, one on <always/> always is
 * (never wins when a JID is on both: the user asked not to keep it); the rest follow the default,
 * `roster` meaning "only contacts in my roster".
 *
 * The archive hook needs the owner's preferences on the delivery path, so they are cached per
 * node; a change is announced over the bus and answered once every node dropped its copy
 * (Host.announceConfirmed), so the next message follows the new preferences wherever it is
 * archived.
 */
import type { ArchivePrefs, ArchiveStore, Host, ModuleContext } from "@switchboard/core";
import { StanzaError, tryParseJid, x, type Element } from "@switchboard/xml";
import { NS_MAM } from "./form.js";

const PREFS_CHANGED = "mam.prefs" as const;

declare module "@switchboard/core" {
  interface ControlMessages {
    /** an account's archiving preferences changed: drop the cached copy */
    "mam.prefs": { owner: string };
  }
}

/** Owners whose preferences are kept at most; past it the cache starts again (a bound, not an LRU). */
const CACHE_MAX = 100_000;
/** The most JIDs one list may hold. */
const LIST_MAX = 1000;

export class PrefsCache {
  private readonly cached = new Map<string, ArchivePrefs>();
  private readonly loading = new Map<string, Promise<ArchivePrefs>>();

  constructor(private readonly archive: ArchiveStore) {}

  /** the prefs, synchronously when cached */
  get(owner: string): ArchivePrefs | Promise<ArchivePrefs> {
    const hit = this.cached.get(owner);
    if (hit) return hit;
    let pending = this.loading.get(owner);
    if (!pending) {
      pending = this.archive.getPrefs(owner).then((prefs) => {
        if (this.loading.get(owner) === pending) {
          if (this.cached.size >= CACHE_MAX) this.cached.clear();
          this.cached.set(owner, prefs);
          this.loading.delete(owner);
        }
        return prefs;
      });
      pending.catch(() => this.loading.delete(owner));
      this.loading.set(owner, pending);
    }
    return pending;
  }

  clear(): void {
    this.cached.clear();
    this.loading.clear();
  }

  drop(owner: string): void {
    this.cached.delete(owner);
    this.loading.delete(owner);
  }
}

/** Whether `prefs` keep a message with `other` (a full or bare JID); `inRoster` is asked only for default='roster'. */
export function prefsAllow(prefs: ArchivePrefs, other: { bare: string; full: string }, inRoster: () => Promise<boolean>): boolean | Promise<boolean> {
  if (prefs.default === "always" && prefs.never.length === 0) return true; // the common case
  const listed = (list: string[]) => list.includes(other.bare) || list.includes(other.full);
  if (listed(prefs.never)) return false;
  if (listed(prefs.always)) return true;
  if (prefs.default === "always") return true;
  if (prefs.default === "never") return false;
  return inRoster();
}

function parseList(prefs: Element, name: "always" | "never"): string[] {
  const list = prefs.getChild(name);
  if (!list) return [];
  const jids = list.getChildren("jid").map((j) => {
    const jid = tryParseJid(j.text().trim());
    if (!jid) throw new StanzaError("bad-request", `<${name}/> holds an invalid JID`);
    return jid.full;
  });
  if (jids.length > LIST_MAX) throw new StanzaError("policy-violation", `at most ${LIST_MAX} JIDs in <${name}/>`);
  return [...new Set(jids)];
}

export function prefsElement(prefs: ArchivePrefs): Element {
  const list = (name: string, jids: string[]) => x(name, {}, ...jids.map((j) => x("jid", {}, j)));
  return x("prefs", { xmlns: NS_MAM, default: prefs.default }, list("always", prefs.always), list("never", prefs.never));
}

export function registerPrefs(ctx: ModuleContext<unknown>, archive: ArchiveStore, cache: PrefsCache): void {
  const host: Host = ctx.host;
  const own = (from: string, to: string) => {
    if (from !== to) throw new StanzaError("forbidden", "archiving preferences belong to their account only");
  };
  ctx.iq({ type: "get", xmlns: NS_MAM, name: "prefs", targets: ["bare"] }, async (ev) => {
    own(ev.from.bare, ev.to.bare);
    return prefsElement(await cache.get(ev.from.bare));
  });
  ctx.iq({ type: "set", xmlns: NS_MAM, name: "prefs", targets: ["bare"] }, async (ev, payload) => {
    own(ev.from.bare, ev.to.bare);
    const dflt = payload.attrs.default;
    if (dflt !== "always" && dflt !== "never" && dflt !== "roster") throw new StanzaError("bad-request", "'default' must be always, never or roster");
    const prefs: ArchivePrefs = { default: dflt, always: parseList(payload, "always"), never: parseList(payload, "never") };
    await archive.setPrefs(ev.from.bare, prefs);
    cache.drop(ev.from.bare);
    // every node has dropped its copy before the answer: the next message follows the new prefs
    await host.announceConfirmed({ type: PREFS_CHANGED, owner: ev.from.bare }).catch((err: unknown) => ctx.log.warn({ err }, "could not announce changed archiving preferences"));
    // §7: the server answers with the preferences now in force
    return prefsElement(prefs);
  });
  const unsubscribe = host.bus.subscribeControl((message) => {
    if (message.type === PREFS_CHANGED && typeof message.owner === "string") cache.drop(message.owner);
  });
  ctx.onUnload(unsubscribe);
  // notices may have been missed while the bus was away
  ctx.onUnload(host.bus.onReconnect(() => cache.clear()));
}
