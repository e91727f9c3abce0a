/**
 * XEP-0313 §4.1 query forms (XEP-0004 data forms): the fields a server MUST support — `with`,
 * `start`, `end` — and the `urn:xmpp:mam:2#extended` ones — `before-id`, `after-id`, `ids`.
 *
 * - §4.1: FORM_TYPE, when present, must be urn:xmpp:mam:2 (else <bad-request/>).
 * - §4.1.5 "If a client includes a form field that the server does not recognise, the server
 *   MUST respond with a 'feature-not-implemented' error": the XEP's answer, not bad-request.
 * - §4.1.2: `start`/`end` are XEP-0082 DateTimes; anything else is <bad-request/>, and so is a
 *   malformed `with` JID.
 */
import { StanzaError, tryParseJid, x, type Element } from "@switchboard/xml";

export const NS_MAM = "urn:xmpp:mam:2";
export const NS_MAM_EXTENDED = "urn:xmpp:mam:2#extended";
const NS_DATA = "jabber:x:data";

export interface QueryFilter {
  with?: { bare: string; full?: string };
  /** ms since the epoch, inclusive */
  start?: number;
  end?: number;
  beforeId?: string;
  afterId?: string;
  ids?: string[];
}

/** XEP-0082 §3.2 DateTime: CCYY-MM-DDThh:mm:ss[.sss]TZD, TZD = Z or ±hh:mm. */
const DATETIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

export function parseDateTime(text: string, field: string): number {
  const m = DATETIME.exec(text.trim());
  const ms = m ? Date.parse(text.trim()) : NaN;
  // Date.parse rolls over impossible dates (2024-02-30); the fields must survive the round trip
  if (!m || Number.isNaN(ms) || Number(m[2]) > 12 || Number(m[3]) > 31 || Number(m[4]) > 23 || Number(m[5]) > 59 || Number(m[6]) > 60) {
    throw new StanzaError("bad-request", `'${field}' must be an XEP-0082 DateTime such as 2026-01-31T12:00:00Z`);
  }
  return ms;
}

function values(field: Element): string[] {
  return field.getChildren("value").map((v) => v.text());
}

function single(field: Element, name: string): string {
  const v = values(field);
  if (v.length !== 1 || v[0] === "") throw new StanzaError("bad-request", `'${name}' takes one value`);
  return v[0]!;
}

export function parseForm(query: Element): QueryFilter {
  const form = query.getChild("x", NS_DATA);
  if (!form) return {};
  const type = form.attrs.type;
  if (type !== undefined && type !== "submit") throw new StanzaError("bad-request", "the query form must be of type 'submit'");
  const filter: QueryFilter = {};
  for (const field of form.getChildren("field")) {
    const name = field.attrs.var;
    switch (name) {
      case "FORM_TYPE":
        if (values(field)[0] !== NS_MAM) throw new StanzaError("bad-request", `FORM_TYPE must be ${NS_MAM}`);
        break;
      case "with": {
        const jid = tryParseJid(single(field, name));
        if (!jid) throw new StanzaError("bad-request", "'with' is not a valid JID");
        filter.with = jid.resource ? { bare: jid.bare, full: jid.full } : { bare: jid.bare };
        break;
      }
      case "start":
        filter.start = parseDateTime(single(field, name), name);
        break;
      case "end":
        filter.end = parseDateTime(single(field, name), name);
        break;
      case "before-id":
        filter.beforeId = single(field, name);
        break;
      case "after-id":
        filter.afterId = single(field, name);
        break;
      case "ids": {
        const ids = values(field).filter((v) => v !== "");
        if (ids.length === 0 || ids.length > 250) throw new StanzaError("bad-request", "'ids' takes 1 to 250 ids");
        filter.ids = [...new Set(ids)];
        break;
      }
      default:
        throw new StanzaError("feature-not-implemented", `unsupported query field '${name ?? ""}'`);
    }
  }
  if (filter.start !== undefined && filter.end !== undefined && filter.start > filter.end) {
    throw new StanzaError("bad-request", "'start' is after 'end'");
  }
  return filter;
}

/** §4.1.5: the fields this server understands (iq get). */
export function queryForm(): Element {
  const field = (v: string, type: string) => x("field", { var: v, type });
  return x(
    "query",
    { xmlns: NS_MAM },
    x(
      "x",
      { xmlns: NS_DATA, type: "form" },
      x("field", { var: "FORM_TYPE", type: "hidden" }, x("value", {}, NS_MAM)),
      field("with", "jid-single"),
      field("start", "text-single"),
      field("end", "text-single"),
      field("before-id", "text-single"),
      field("after-id", "text-single"),
      x("field", { var: "ids", type: "list-multi" }, x("validate", { xmlns: "http://jabber.org/protocol/xdata-validate", datatype: "xs:string" }, x("open"))),
    ),
  );
}
