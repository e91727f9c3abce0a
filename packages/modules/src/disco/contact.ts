/**
 * XEP-0157 Contact Addresses for XMPP Services: the server's disco#info carries an XEP-0128
 * data form of FORM_TYPE 'http://jabber.org/network/serverinfo' with one list-multi field per
 * kind of address the operator published (§2). §2 wants the values to be URIs (MUST for
 * status-addresses, SHOULD for the rest); we require a URI with a scheme for all of them
 * (mailto:, xmpp:, https:, …), since a bare "abuse@example.org" is ambiguous to a client.
 */
import { type Element, x } from "@switchboard/xml";

export const NS_SERVERINFO = "http://jabber.org/network/serverinfo";
export const NS_DATA_FORMS = "jabber:x:data";

/** option key → the field §5 registers for it */
export const CONTACT_FIELDS = {
  abuse: "abuse-addresses",
  admin: "admin-addresses",
  feedback: "feedback-addresses",
  sales: "sales-addresses",
  security: "security-addresses",
  status: "status-addresses",
  support: "support-addresses",
} as const;

export type ContactField = keyof typeof CONTACT_FIELDS;
export type ContactAddresses = Partial<Record<ContactField, string[]>>;

/** RFC 3986 §3.1 scheme, then something, with no whitespace or control characters anywhere */
const URI_SHAPE = /^[A-Za-z][A-Za-z0-9+.-]*:[^\s\u0000-\u001f\u007f]+$/;

/** Throws an Error naming the option for anything but lists of URIs under the known fields. */
export function validateContact(contact: unknown): void {
  if (typeof contact !== "object" || contact === null || Array.isArray(contact)) throw new Error("disco.contact must be a map of address lists");
  for (const [field, uris] of Object.entries(contact)) {
    if (!(field in CONTACT_FIELDS)) {
      throw new Error(`disco.contact.${field} is not a contact field (expected one of ${Object.keys(CONTACT_FIELDS).join(", ")})`);
    }
    if (!Array.isArray(uris)) throw new Error(`disco.contact.${field} must be a list of URIs`);
    for (const uri of uris) {
      if (typeof uri !== "string" || !isUri(uri)) {
        throw new Error(`disco.contact.${field}: ${JSON.stringify(uri)} is not a URI with a scheme (e.g. mailto:abuse@example.org, xmpp:admin@example.org, https://example.org/support)`);
      }
    }
  }
}

function isUri(text: string): boolean {
  if (!URI_SHAPE.test(text)) return false;
  try {
    new URL(text);
    return true;
  } catch {
    return false;
  }
}

/** The XEP-0128 form, or undefined when no address is published (§2 leaves it out then). */
export function contactForm(contact: ContactAddresses): Element | undefined {
  // sorted by field name, as XEP-0115 §5.4 hashes them, which keeps the answer stable too
  const fields = (Object.entries(CONTACT_FIELDS) as Array<[ContactField, string]>)
    .filter(([key]) => (contact[key]?.length ?? 0) > 0)
    .sort(([, a], [, b]) => a.localeCompare(b))
    .map(([key, name]) => x("field", { var: name, type: "list-multi" }, contact[key]!.map((uri) => x("value", null, uri))));
  if (fields.length === 0) return undefined;
  return x(
    "x",
    { xmlns: NS_DATA_FORMS, type: "result" },
    x("field", { var: "FORM_TYPE", type: "hidden" }, x("value", null, NS_SERVERINFO)),
    fields,
  );
}
