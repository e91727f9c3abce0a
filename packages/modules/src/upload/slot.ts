/**
 * XEP-0363 §4 slot requests: `<request filename size content-type/>` checked before any slot
 * is handed out, so nothing a client names can reach the storage unvetted.
 *
 * - filename: one path segment of at most 255 bytes; anything with a separator, a NUL or
 *   another control character, or that is `.`/`..`, is <bad-request/> (§11: the service must not
 *   let a name pick where a file goes). It is percent-encoded in the URL and the storage key
 *   besides (sign.ts), so even an accepted name is never interpreted as a path.
 * - size: a positive decimal integer (§4 "the size of the file in bytes").
 * - content-type: optional (§4), `type/subtype` with RFC 6838 characters, parameters ignored;
 *   lowercased, application/octet-stream when absent.
 */
import { StanzaError, type Element } from "@switchboard/xml";

export const NS_UPLOAD = "urn:xmpp:http:upload:0";

export interface SlotRequest {
  filename: string;
  size: number;
  contentType: string;
}

const MAX_FILENAME_BYTES = 255;
const MIME_TOKEN = /^[a-z0-9][a-z0-9!#$&^_.+-]{0,126}\/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}$/;
export const DEFAULT_CONTENT_TYPE = "application/octet-stream";

export function parseSlotRequest(request: Element): SlotRequest {
  const filename = request.attrs.filename ?? "";
  checkFilename(filename);
  const sizeText = request.attrs.size ?? "";
  if (!/^[0-9]{1,16}$/.test(sizeText) || Number(sizeText) < 1) throw new StanzaError("bad-request", "size must be the file's length in bytes, a positive integer");
  const contentType = normaliseContentType(request.attrs["content-type"]);
  if (contentType === undefined) throw new StanzaError("bad-request", "content-type must be a MIME type such as image/jpeg");
  return { filename, size: Number(sizeText), contentType };
}

function checkFilename(name: string): void {
  if (name === "") throw new StanzaError("bad-request", "a filename is required");
  if (Buffer.byteLength(name) > MAX_FILENAME_BYTES) throw new StanzaError("bad-request", `the filename is longer than ${MAX_FILENAME_BYTES} bytes`);
  if (name === "." || name === "..") throw new StanzaError("bad-request", "the filename cannot be . or ..");
  // eslint-disable-next-line no-control-regex
  if (/[/\\\u0000-\u001f\u007f]/.test(name)) throw new StanzaError("bad-request", "the filename must not contain /, \\ or control characters");
}

/** `Image/PNG; charset=x` → `image/png`; undefined when it is not a MIME type at all. */
export function normaliseContentType(raw: string | undefined): string | undefined {
  if (raw === undefined || raw.trim() === "") return DEFAULT_CONTENT_TYPE;
  const bare = raw.split(";")[0]!.trim().toLowerCase();
  return MIME_TOKEN.test(bare) ? bare : undefined;
}

/** `upload.allowedTypes` entries are exact types or `type/*`; an empty list allows every type. */
export function typeAllowed(contentType: string, allowed: readonly string[]): boolean {
  if (allowed.length === 0) return true;
  const major = contentType.split("/")[0]!;
  return allowed.some((pattern) => pattern === contentType || pattern === `${major}/*` || pattern === "*/*");
}
