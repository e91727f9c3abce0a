/**
 * XEP-0313 §4 archive queries: an IQ set with <query/> to the account (no 'to' or the own bare
 * JID) streams the matching messages as <result/> messages (§4.2), oldest first, then answers
 * with <fin/> carrying the RSM set (§5.1). Another account's archive is <forbidden/> (§6.1.1:
 * only the owner may query a user archive).
 */
import { ArchiveItemNotFound, type ArchiveStore, type ArchivedMessage, type Host, type ModuleContext, type StanzaEvent } from "@switchboard/core";
import { NS_CLIENT, NS_DELAY, NS_FORWARD, StanzaError, bareOf, parseFrame, x, type Element } from "@switchboard/xml";
import { NS_MAM, parseForm, queryForm } from "./form.js";
import { NS_RSM, parseRsm, resultSet } from "./rsm.js";

function assertOwnArchive(ev: StanzaEvent): void {
  if (ev.to.bare !== ev.from.bare) throw new StanzaError("forbidden", "a user archive can only be queried by its owner");
}

/** §4.2: the archived message, forwarded (XEP-0297) with the time it was archived (XEP-0203). */
export function resultMessage(item: ArchivedMessage, to: string, queryId: string | undefined): Element | undefined {
  let inner: Element;
  try {
    inner = parseFrame(item.xml);
  } catch {
    return undefined; // a corrupt row must not end the whole query
  }
  inner.attrs.xmlns = NS_CLIENT;
  const stamp = new Date(Math.floor(item.seq / 1000)).toISOString();
  return x(
    "message",
    // from the archive, the account itself (§4.2); clients check it is their own bare JID
    { from: bareOf(to), to, id: `mam-${item.id}` },
    x("result", { xmlns: NS_MAM, queryid: queryId, id: item.id }, x("forwarded", { xmlns: NS_FORWARD }, x("delay", { xmlns: NS_DELAY, stamp }), inner)),
  );
}

export function registerQuery(ctx: ModuleContext<unknown>, archive: ArchiveStore): void {
  const host: Host = ctx.host;
  ctx.iq({ type: "get", xmlns: NS_MAM, name: "query", targets: ["bare"] }, (ev) => {
    assertOwnArchive(ev);
    return queryForm();
  });
  ctx.iq({ type: "set", xmlns: NS_MAM, name: "query", targets: ["bare"] }, async (ev, query) => {
    assertOwnArchive(ev);
    const filter = parseForm(query);
    const rsm = parseRsm(query.getChild("set", NS_RSM));
    const queryId = query.attrs.queryid;
    const owner = ev.from.bare;
    const range = { owner, with: filter.with, minSeq: filter.start === undefined ? undefined : filter.start * 1000, maxSeq: filter.end === undefined ? undefined : filter.end * 1000 + 999 };
    try {
      // §4.1.3: every id named in 'ids' must be in the archive
      if (filter.ids) {
        const known = await archive.query({ owner, ids: filter.ids, max: 0, fromEnd: false });
        if (known.count < filter.ids.length) throw new StanzaError("item-not-found", "an id in 'ids' is not in the archive");
      }
      const page = await archive.query({
        ...range,
        ids: filter.ids,
        // RSM's <after>/<before> page within the form's after-id/before-id range; the nearer bound wins
        afterId: rsm.after ?? filter.afterId,
        beforeId: rsm.before || filter.beforeId,
        max: rsm.max,
        fromEnd: rsm.before !== undefined,
      });
      if (rsm.after !== undefined && filter.afterId !== undefined) await archive.query({ owner, afterId: filter.afterId, max: 0, fromEnd: false });
      if (rsm.before && filter.beforeId !== undefined) await archive.query({ owner, beforeId: filter.beforeId, max: 0, fromEnd: false });
      const items = query.getChild("flip-page") ? [...page.items].reverse() : page.items;
      for (const item of items) {
        const message = resultMessage(item, ev.from.full, queryId);
        if (message) await host.deliverToResource(ev.from.full, message);
      }
      return x("fin", { xmlns: NS_MAM, complete: page.complete ? "true" : undefined }, resultSet(page.items.map((i) => i.id), page.count));
    } catch (err) {
      // §5.1.2, §4.1.3: an unknown after/before id
      if (err instanceof ArchiveItemNotFound) throw new StanzaError("item-not-found", "no archived message with that id");
      throw err;
    }
  });
}
