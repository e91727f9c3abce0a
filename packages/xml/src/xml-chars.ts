// Character-level rules of XML 1.0 as XMPP restricts them (RFC 6120 §11): legal characters,
// names, and the only references a stream may carry (the five predefined entities and
// numeric character references; RFC 6120 §11.1 forbids DTDs and so every other entity).
import { StreamError } from "./errors.js";

// XML 1.0 §2.3 NameStartChar / NameChar; supplementary-plane characters as surrogate pairs.
const NAME_START = ":A-Z_a-z\\u00C0-\\u00D6\\u00D8-\\u00F6\\u00F8-\\u02FF\\u0370-\\u037D\\u037F-\\u1FFF\\u200C\\u200D\\u2070-\\u218F\\u2C00-\\u2FEF\\u3001-\\uD7FF\\uF900-\\uFDCF\\uFDF0-\\uFFFD";
const NAME_CHAR = NAME_START + "\\-.0-9\\u00B7\\u0300-\\u036F\\u203F\\u2040";
const ASTRAL = "[\\uD800-\\uDB7F][\\uDC00-\\uDFFF]";
export const NAME = `(?:[${NAME_START}]|${ASTRAL})(?:[${NAME_CHAR}]|${ASTRAL})*`;
export const WS = "[ \\t\\r\\n]";

// XML 1.0 §2.2 Char excludes C0 controls other than TAB/LF/CR, and U+FFFE/U+FFFF.
// Lone surrogates cannot come out of validated UTF-8; string input is checked separately.
const ILLEGAL_TEXT_CHAR = /[\x00-\x08\x0B\x0C\x0E-\x1F\uFFFE\uFFFF]/;
// Attribute values additionally normalise TAB/LF/CR to spaces (XML 1.0 §3.3.3).
const ATTR_NEEDS_WORK = /[\x00-\x1F\uFFFE\uFFFF]/;
const ATTR_WHITESPACE = /[\t\n\r]/g;
// Longest reference we wait for across chunks: '&#x0000010FFFF;' with generous leading zeros.
export const MAX_REFERENCE_LENGTH = 32;
const ENTITY_NAME = new RegExp(`^${NAME}$`);

export function notWellFormed(text: string): StreamError {
  return new StreamError("not-well-formed", text);
}

export function restrictedXml(text: string): StreamError {
  return new StreamError("restricted-xml", `${text} (RFC 6120 §11.1)`);
}

export function checkTextChars(text: string): void {
  if (ILLEGAL_TEXT_CHAR.test(text)) throw notWellFormed("illegal XML character in text");
  if (text.includes("]]>")) throw notWellFormed("']]>' in character data");
}

/** Decode the five predefined entities and character references; refuse anything else. */
export function decodeReferences(s: string): string {
  let amp = s.indexOf("&");
  if (amp === -1) return s;
  let out = "";
  let last = 0;
  while (amp !== -1) {
    const semi = s.indexOf(";", amp + 1);
    if (semi === -1 || semi - amp > MAX_REFERENCE_LENGTH) throw notWellFormed("'&' not starting a reference");
    out += s.slice(last, amp) + resolveReference(s.slice(amp + 1, semi));
    last = semi + 1;
    amp = s.indexOf("&", last);
  }
  return out + s.slice(last);
}

function resolveReference(ref: string): string {
  switch (ref) {
    case "amp":
      return "&";
    case "lt":
      return "<";
    case "gt":
      return ">";
    case "quot":
      return '"';
    case "apos":
      return "'";
  }
  if (ref.charCodeAt(0) === 35 /* # */) {
    const code = /^#x[0-9a-fA-F]+$/.test(ref) ? parseInt(ref.slice(2), 16) : /^#[0-9]+$/.test(ref) ? parseInt(ref.slice(1), 10) : NaN;
    if (!isLegalCodePoint(code)) throw notWellFormed(`character reference &${ref}; is not a legal XML character`);
    return String.fromCodePoint(code);
  }
  if (ENTITY_NAME.test(ref)) throw restrictedXml(`entity reference &${ref}; is not allowed`);
  throw notWellFormed(`malformed reference &${ref};`);
}

function isLegalCodePoint(c: number): boolean {
  return (
    c === 0x9 || c === 0xa || c === 0xd || (c >= 0x20 && c <= 0xd7ff) || (c >= 0xe000 && c <= 0xfffd) || (c >= 0x10000 && c <= 0x10ffff)
  );
}

/** Attribute value as written between the quotes → its value (XML 1.0 §3.3.3). */
export function decodeAttributeValue(raw: string): string {
  if (ATTR_NEEDS_WORK.test(raw)) {
    if (ILLEGAL_TEXT_CHAR.test(raw)) throw notWellFormed("illegal XML character in attribute value");
    raw = raw.replace(ATTR_WHITESPACE, " ");
  }
  return decodeReferences(raw);
}

type WellFormedString = string & { isWellFormed?: () => boolean };

/** True when the string has no unpaired surrogate (only string input can carry one). */
export function isWellFormedUtf16(s: string): boolean {
  const native = (s as WellFormedString).isWellFormed;
  if (native) return native.call(s);
  return !/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(s);
}
