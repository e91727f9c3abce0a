/**
 * XEP-0059 result set management, as XEP-0313 §5.1 uses it: <max>, <after>, <before> (empty:
 * the last page, §5.1.3), and the <set> of a result with <first>, <last> and <count>.
 */
import { StanzaError, x, type Element } from "@switchboard/xml";
import { DEFAULT_PAGE, MAX_PAGE } from "./options.js";

export const NS_RSM = "http://jabber.org/protocol/rsm";

export interface RsmRequest {
  /** clamped to MAX_PAGE */
  max: number;
  after?: string;
  /** "" for an empty <before/>: the last page */
  before?: string;
}

export function parseRsm(set: Element | undefined): RsmRequest {
  if (!set) return { max: DEFAULT_PAGE };
  const maxText = set.getChildText("max");
  let max = DEFAULT_PAGE;
  if (maxText !== null && maxText !== undefined) {
    // §2.1: a non-negative integer; anything else is the client's mistake
    if (!/^\s*\d+\s*$/.test(maxText)) throw new StanzaError("bad-request", "RSM <max> must be a non-negative integer");
    max = Math.min(Number(maxText.trim()), MAX_PAGE);
  }
  // §2.5: a server that does not page by index says so
  if (set.getChild("index")) throw new StanzaError("feature-not-implemented", "RSM <index> is not supported; page with <after>/<before>");
  const after = set.getChild("after");
  const before = set.getChild("before");
  if (after && before) throw new StanzaError("bad-request", "RSM <after> and <before> together are undefined (XEP-0313 §5.1.2); use after-id and before-id");
  const afterId = after?.text();
  if (after && !afterId) throw new StanzaError("bad-request", "RSM <after> needs an id");
  return { max, ...(after ? { after: afterId } : {}), ...(before ? { before: before.text() } : {}) };
}

/** §2.2 / XEP-0313 §5.1.2: first and last of the page, and the count of the whole result. */
export function resultSet(ids: string[], count: number): Element {
  const set = x("set", { xmlns: NS_RSM });
  if (ids.length > 0) {
    set.cnode(x("first", {}, ids[0]!));
    set.cnode(x("last", {}, ids[ids.length - 1]!));
  }
  set.cnode(x("count", {}, String(count)));
  return set;
}
