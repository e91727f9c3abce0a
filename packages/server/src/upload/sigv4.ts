/**
 * AWS Signature Version 4 for S3 requests (the "Authorization header" form), small enough to
 * own instead of pulling in an SDK: canonical request → string to sign → signing key derived
 * per day, region and service → HMAC-SHA256. Path-style URLs only (`<endpoint>/<bucket>/<key>`),
 * which every S3-compatible store takes.
 */
import { createHash, createHmac } from "node:crypto";

export interface SigV4Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  region: string;
}

export interface SignableRequest {
  method: string;
  /** absolute URL; its path must already be encoded with encodeS3Path */
  url: URL;
  /** headers sent besides host, x-amz-date and x-amz-content-sha256 (all are signed) */
  headers?: Record<string, string>;
  /** hex SHA-256 of the body, or UNSIGNED_PAYLOAD for a streamed body */
  payloadHash: string;
}

export const UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD";
export const EMPTY_SHA256 = createHash("sha256").update("").digest("hex");

/** RFC 3986 encoding as SigV4 wants it: everything but unreserved characters is %XX. */
export function uriEncode(text: string): string {
  return encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** `/bucket/a/b c` with every segment encoded once (S3 does not double-encode). */
export function encodeS3Path(segments: readonly string[]): string {
  return "/" + segments.map((s) => s.split("/").map(uriEncode).join("/")).join("/");
}

/** The headers to send: the caller's plus host, x-amz-date, x-amz-content-sha256 and Authorization. */
export function signRequest(req: SignableRequest, creds: SigV4Credentials, now = new Date()): Record<string, string> {
  const amzDate = now.toISOString().replace(/[-:]/g, "").replace(/\.\d{3}/, "");
  const day = amzDate.slice(0, 8);
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers ?? {})) headers[k.toLowerCase()] = v.trim().replace(/\s+/g, " ");
  headers.host = req.url.host;
  headers["x-amz-date"] = amzDate;
  headers["x-amz-content-sha256"] = req.payloadHash;
  const names = Object.keys(headers).sort();
  const signedHeaders = names.join(";");
  const query = [...req.url.searchParams]
    .map(([k, v]) => [uriEncode(k), uriEncode(v)] as const)
    .sort(([a, av], [b, bv]) => (a < b ? -1 : a > b ? 1 : av < bv ? -1 : av > bv ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join("&");
  const canonical = [req.method, req.url.pathname, query, names.map((n) => `${n}:${headers[n]}\n`).join(""), signedHeaders, req.payloadHash].join("\n");
  const scope = `${day}/${creds.region}/s3/aws4_request`;
  const stringToSign = ["AWS4-HMAC-SHA256", amzDate, scope, sha256Hex(canonical)].join("\n");
  const kDate = hmac(`AWS4${creds.secretAccessKey}`, day);
  const kSigning = hmac(hmac(hmac(kDate, creds.region), "s3"), "aws4_request");
  const signature = createHmac("sha256", kSigning).update(stringToSign).digest("hex");
  headers.authorization = `AWS4-HMAC-SHA256 Credential=${creds.accessKeyId}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}`;
  return headers;
}

function hmac(key: string | Buffer, data: string): Buffer {
  return createHmac("sha256", key).update(data).digest();
}

function sha256Hex(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}
