/**
 * SASLprep (RFC 4013), pragmatic form: the mapping, NFKC normalisation and prohibited-output
 * steps, without the unassigned-code-point and bidi checks of RFC 3454 (those need Unicode 3.2
 * tables; every mainstream XMPP client sends plain NFC text, so the omission is harmless in practice).
 * Used on SCRAM/PLAIN usernames and on passwords before Hi() (RFC 5802 §2.2 "Normalize").
 */

export class SaslPrepError extends Error {
  override name = "SaslPrepError";
  constructor(
    message: string,
    /** UTF-16 code point that was rejected, when the error is about one character */
    readonly codePoint?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** RFC 3454 Appendix B.1 "commonly mapped to nothing" (RFC 4013 §2.1). */
const MAPPED_TO_NOTHING = /[\u00AD\u034F\u1806\u180B-\u180D\u200B-\u200D\u2060\uFE00-\uFE0F\uFEFF]/gu;

/** RFC 3454 Appendix C.1.2 non-ASCII space characters, mapped to SPACE (RFC 4013 §2.1). */
const NON_ASCII_SPACE = /[\u00A0\u1680\u2000-\u200A\u202F\u205F\u3000]/gu;

/**
 * Prohibited output (RFC 4013 §2.3): control characters (C.2.1, C.2.2), private use (C.3),
 * non-characters (C.4), surrogates (C.5), inappropriate for plain text (C.6), ideographic
 * description (C.7), display-changing and deprecated (C.8) and tagging characters (C.9).
 */
function isProhibited(cp: number): boolean {
  return (
    cp <= 0x1f ||
    (cp >= 0x7f && cp <= 0x9f) ||
    cp === 0x06dd ||
    cp === 0x070f ||
    cp === 0x180e ||
    (cp >= 0x200c && cp <= 0x200f) ||
    (cp >= 0x2028 && cp <= 0x202e) ||
    (cp >= 0x2060 && cp <= 0x2063) ||
    (cp >= 0x206a && cp <= 0x206f) ||
    cp === 0xfeff ||
    (cp >= 0xfff9 && cp <= 0xfffd) ||
    (cp >= 0x1d173 && cp <= 0x1d17a) ||
    (cp >= 0xe000 && cp <= 0xf8ff) ||
    cp >= 0xf0000 ||
    (cp >= 0xfdd0 && cp <= 0xfdef) ||
    (cp & 0xfffe) === 0xfffe ||
    (cp >= 0xd800 && cp <= 0xdfff) ||
    (cp >= 0x2ff0 && cp <= 0x2ffb) ||
    cp === 0x0340 ||
    cp === 0x0341 ||
    cp === 0xe0001 ||
    (cp >= 0xe0020 && cp <= 0xe007f)
  );
}

/** Prepares a username or password; throws SaslPrepError on prohibited characters. */
export function saslPrep(input: string): string {
  const mapped = input.replace(MAPPED_TO_NOTHING, "").replace(NON_ASCII_SPACE, " ");
  const normalised = mapped.normalize("NFKC");
  // for…of walks code points, so a lone surrogate shows up on its own and is rejected (C.5).
  for (const ch of normalised) {
    const cp = ch.codePointAt(0)!;
    if (isProhibited(cp)) {
      throw new SaslPrepError(`prohibited character U+${cp.toString(16).toUpperCase().padStart(4, "0")}`, cp);
    }
  }
  return normalised;
}
