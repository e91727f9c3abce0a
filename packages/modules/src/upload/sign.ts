/**
 * XEP-0363 §5 leaves how the upload service trusts a PUT to the service. Ours carries its
 * authority in the URL: every edge derives the same key from the server secret, so a slot
 * handed out by one edge is honoured by any other (the cluster shares `<dataDir>/server-secret`,
 * as it must already for the fake SCRAM salts), with no shared state per slot.
 *
 * - The token is an HMAC over method, path, size, content type and expiry: a PUT of another
 *   size or type, to another path or after the expiry does not verify.
 * - The path holds an owner tag (a keyed hash of the account: the files of one account share a
 *   prefix, for its quota, without naming the account in a URL) and a random id of 128 bits,
 *   which is what makes the GET URL unguessable (§11 "Security Considerations").
 */
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";

/** Where uploads live below the HTTPS origin (the HTTP side mounts this prefix). */
export const UPLOAD_PATH_PREFIX = "/upload/";

export interface SlotClaims {
  /** the URL path, `/upload/<owner>/<id>/<encoded name>` */
  path: string;
  size: number;
  contentType: string;
  /** Unix time in seconds after which the PUT is refused */
  expires: number;
}

export class UploadSigner {
  private readonly signingKey: Buffer;
  private readonly ownerKey: Buffer;

  constructor(serverSecret: Buffer) {
    // Separate keys per use, so a token can never pass as an owner tag or a SCRAM salt.
    this.signingKey = createHmac("sha256", serverSecret).update("switchboard upload put v1").digest();
    this.ownerKey = createHmac("sha256", serverSecret).update("switchboard upload owner v1").digest();
  }

  /** The account's path segment: 24 hex digits of a keyed hash of the bare JID. */
  ownerTag(bareJid: string): string {
    return createHmac("sha256", this.ownerKey).update(bareJid).digest("hex").slice(0, 24);
  }

  /** A fresh path for one upload of `filename` (already validated, slot.ts). */
  newPath(bareJid: string, filename: string): string {
    const id = randomBytes(16).toString("base64url");
    return `${UPLOAD_PATH_PREFIX}${this.ownerTag(bareJid)}/${id}/${encodeFilename(filename)}`;
  }

  sign(claims: SlotClaims): string {
    const material = ["PUT", claims.path, String(claims.size), claims.contentType, String(claims.expires)].join("\n");
    return createHmac("sha256", this.signingKey).update(material).digest("base64url");
  }

  /** Constant-time check of a token against the claims it should cover. */
  verify(claims: SlotClaims, token: string): boolean {
    const expected = Buffer.from(this.sign(claims));
    const given = Buffer.from(token);
    return given.length === expected.length && timingSafeEqual(given, expected);
  }
}

/**
 * The file name as one path segment and storage key: percent-encoded (RFC 3986 unreserved
 * characters only), so it can never hold a separator, whatever the client sent.
 */
export function encodeFilename(name: string): string {
  return encodeURIComponent(name).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** The parts of an upload path, or undefined when it is not one this service hands out. */
export function parseUploadPath(path: string): { owner: string; id: string; name: string; key: string } | undefined {
  if (!path.startsWith(UPLOAD_PATH_PREFIX)) return undefined;
  const parts = path.slice(UPLOAD_PATH_PREFIX.length).split("/");
  if (parts.length !== 3) return undefined;
  const [owner, id, encoded] = parts as [string, string, string];
  if (!/^[0-9a-f]{24}$/.test(owner) || !/^[A-Za-z0-9_-]{22}$/.test(id) || !/^(?:[A-Za-z0-9._~-]|%[0-9A-F]{2})+$/.test(encoded)) return undefined;
  if (encoded === "." || encoded === "..") return undefined; // never handed out (slot.ts)
  let name: string;
  try {
    name = decodeURIComponent(encoded);
  } catch {
    return undefined;
  }
  // Only the canonical encoding of a name is a path we could have handed out.
  if (encodeFilename(name) !== encoded) return undefined;
  return { owner, id, name, key: `${owner}/${id}/${encoded}` };
}
