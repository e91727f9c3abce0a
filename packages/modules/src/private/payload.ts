/**
 * The children of a jabber:iq:private query (XEP-0049 §3): each must be qualified by a
 * namespace of its own, which is the storage key. Several children may share one (an IQ set
 * "MAY contain multiple elements qualified by the same namespace"); they are stored together,
 * in order, as one serialized payload.
 */
import { DEFAULT_LIMITS, type Element, NS_CLIENT, NS_SERVER, StanzaError, parseFrame } from "@switchboard/xml";

export const NS_PRIVATE = "jabber:iq:private";

/**
 * §3 "At least one child element with a proper namespace MUST be included": none at all, one
 * that only inherits the query's namespace, or a stanza namespace cannot be a storage key.
 * (The wider reserved set of §3, 'jabber:*', 'http://jabber.org/*', 'vcard-temp', is refused
 * by some old servers only, "OPTIONAL"; clients store under such names, so we accept them.)
 */
const NOT_A_KEY = new Set(["", NS_PRIVATE, NS_CLIENT, NS_SERVER]);

/** The children grouped by namespace, in the order the namespaces first appear. */
export function groupByNamespace(query: Element): Map<string, Element[]> {
  const children = query.getChildElements();
  if (children.length === 0) throw new StanzaError("not-acceptable", "the query must contain an element qualified by a namespace of its own");
  const groups = new Map<string, Element[]>();
  for (const child of children) {
    const ns = child.getNS() ?? "";
    if (NOT_A_KEY.has(ns)) throw new StanzaError("not-acceptable", `<${child.name}/> needs a namespace of its own to be stored`);
    const group = groups.get(ns);
    if (group) group.push(child);
    else groups.set(ns, [child]);
  }
  return groups;
}

/**
 * The serialized payload of one namespace, refused when it would not read back (a prefix
 * declared on an ancestor that is not stored with it) or when it passes maxBytes.
 */
export function serializePayload(elements: Element[], maxBytes: number): string {
  const xml = elements.map((el) => el.toString()).join("");
  const bytes = Buffer.byteLength(xml, "utf8");
  // not-acceptable (modify), as vcard-temp answers: the same request will never fit, while a
  // 'wait' error such as resource-constraint would invite the client to send it again.
  if (bytes > maxBytes) throw new StanzaError("not-acceptable", `private XML larger than ${maxBytes} bytes`);
  try {
    parsePayload(xml, maxBytes);
  } catch (err) {
    throw new StanzaError("not-acceptable", "the element does not stand on its own (undeclared namespace prefix)", undefined, { cause: err });
  }
  return xml;
}

/** The stored elements of one namespace (throws when the stored text does not parse). */
export function parsePayload(xml: string, maxBytes: number): Element[] {
  const wrapper = parseFrame(`<query xmlns='${NS_PRIVATE}'>${xml}</query>`, {
    maxStanzaBytes: Math.max(DEFAULT_LIMITS.maxStanzaBytes, maxBytes + 1024),
  });
  return wrapper.getChildElements();
}
