/**
 * XEP-0359 unique and stable stanza IDs.
 *
 * - §3 / §5 (security): a `<stanza-id/>` is only trustworthy when its `by` is an entity the
 *   receiver trusts to have set it. Our server sets them with `by` = the archive owner's bare
 *   JID (or a room), so one that reaches us from a client claiming `by` our domain or any JID on
 *   it is a forgery: it is removed before the message goes anywhere (the router carries on with a
 *   copy without it, the client's element is left as it came). Ones by foreign entities stay.
 * - Adding them is the archive's job (../mam): the id is the archive id, so it is only put on
 *   messages that were archived.
 */
import { defineModule, type Host } from "@switchboard/core";
import { Element, bareOf, x } from "@switchboard/xml";

export const NS_SID = "urn:xmpp:sid:0";

/** Before everything that copies or stores a message (carbons, archive, offline). */
const BEFORE_ALL = { band: "limits", offset: 4000 } as const;

export const stanzaIdModule = defineModule<Record<string, never>>({
  name: "stanza-id",
  spec: "XEP-0359",
  defaults: {},
  setup(ctx) {
    // Advertised by the archive (../mam), which is what adds them: a server without one sets none.
    const host = ctx.host;
    ctx.on(
      "stanza/out",
      (ev) => {
        if (ev.kind !== "message") return;
        if (hasSpoofedStanzaId(host, ev.stanza)) {
          const cleaned = withoutOurStanzaIds(host, ev.stanza);
          host.traces.carry(ev.stanza, cleaned);
          ev.stanza = cleaned;
        }
      },
      BEFORE_ALL,
    );
  },
});

/** The domain of a `by` attribute: a bare JID or a domain. */
function isOurs(host: Host, by: string | undefined): boolean {
  if (by === undefined) return false;
  const bare = bareOf(by);
  const domain = bare.includes("@") ? bare.slice(bare.indexOf("@") + 1) : bare;
  return domain === host.domain || domain.endsWith(`.${host.domain}`);
}

export function hasSpoofedStanzaId(host: Host, stanza: Element): boolean {
  for (const child of stanza.children) {
    if (typeof child !== "string" && child.name === "stanza-id" && child.attrs.xmlns === NS_SID && isOurs(host, child.attrs.by)) return true;
  }
  return false;
}

/** A copy without the stanza-ids that claim to be ours. */
export function withoutOurStanzaIds(host: Host, stanza: Element): Element {
  const copy = new Element(stanza.name, { ...stanza.attrs });
  for (const child of stanza.children) {
    if (typeof child !== "string" && child.name === "stanza-id" && child.attrs.xmlns === NS_SID && isOurs(host, child.attrs.by)) continue;
    copy.children.push(child);
  }
  return copy;
}

/**
 * A copy of the message carrying our `<stanza-id id by/>` (§4); the element routed elsewhere is
 * not changed (children are shared, which is safe: nothing on the write path mutates them).
 */
export function withStanzaId(stanza: Element, id: string, by: string): Element {
  const copy = new Element(stanza.name, { ...stanza.attrs });
  copy.children.push(...stanza.children);
  copy.cnode(x("stanza-id", { xmlns: NS_SID, id, by }));
  return copy;
}
