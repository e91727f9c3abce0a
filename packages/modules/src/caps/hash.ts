/**
 * XEP-0115 §5.1 verification string over a disco#info answer, and its §5.4 validity rules.
 * Sorting is by octets ("i;octet" collation, RFC 4790 §9.3), so strings are compared as UTF-8
 * bytes, not as JavaScript UTF-16 units.
 */
import { createHash } from "node:crypto";
import type { Element } from "@switchboard/xml";

export const NS_CAPS = "http://jabber.org/protocol/caps";
const NS_DATA = "jabber:x:data";
const XML_LANG = "xml:lang";

const byOctets = (a: string, b: string) => Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));

/** What a verified disco#info answer said, and the hash it gives. */
export interface CapsAnswer {
  ver: string;
  features: string[];
}

/**
 * The sha-1 `ver` of a disco#info <query/> (§5.1), or undefined when §5.4 3.3–3.6 make it
 * invalid: a repeated identity or feature, a form whose FORM_TYPE is missing, not hidden or
 * given twice, or two forms of one FORM_TYPE.
 */
export function capsVer(query: Element): CapsAnswer | undefined {
  const identities = query.getChildren("identity").map((i) => `${i.attrs.category ?? ""}/${i.attrs.type ?? ""}/${i.attrs[XML_LANG] ?? ""}/${i.attrs.name ?? ""}`);
  const features = query.getChildren("feature").map((f) => f.attrs.var ?? "");
  if (new Set(identities).size !== identities.length || new Set(features).size !== features.length) return undefined;
  let s = "";
  for (const id of [...identities].sort(byOctets)) s += `${id}<`;
  for (const f of [...features].sort(byOctets)) s += `${f}<`;
  const forms = new Map<string, Element>();
  for (const form of query.getChildren("x", NS_DATA)) {
    const types = form.getChildren("field").filter((f) => f.attrs.var === "FORM_TYPE");
    // §5.4 3.6: a form without FORM_TYPE is ignored, one with a non-hidden FORM_TYPE invalidates
    if (types.length === 0) continue;
    if (types.length > 1 || types[0]!.attrs.type !== "hidden") return undefined;
    const values = types[0]!.getChildren("value");
    if (values.length !== 1) return undefined;
    const formType = values[0]!.getText();
    if (forms.has(formType)) return undefined;
    forms.set(formType, form);
  }
  for (const formType of [...forms.keys()].sort(byOctets)) {
    s += `${formType}<`;
    const fields = forms.get(formType)!.getChildren("field").filter((f) => f.attrs.var !== "FORM_TYPE");
    for (const field of fields.sort((a, b) => byOctets(a.attrs.var ?? "", b.attrs.var ?? ""))) {
      s += `${field.attrs.var ?? ""}<`;
      for (const v of field.getChildren("value").map((v) => v.getText()).sort(byOctets)) s += `${v}<`;
    }
  }
  return { ver: createHash("sha1").update(s, "utf8").digest("base64"), features };
}

/** The caps element of a presence (§4): the legacy form without 'hash' is not verifiable and is ignored (§8.4 "legacy"). */
export function capsClaim(presence: Element): { hash: string; node: string; ver: string } | undefined {
  const c = presence.getChild("c", NS_CAPS);
  const { hash, node, ver } = c?.attrs ?? {};
  if (!hash || !node || !ver) return undefined;
  return { hash, node, ver };
}

/** Cache key of a claim: §5.4 "the hash and ver together". */
export const capsKey = (claim: { hash: string; ver: string }) => `${claim.hash} ${claim.ver}`;
