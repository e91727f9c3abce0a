/**
 * XEP-0363 §5, the HTTP side: PUT to a signed slot URL, GET/HEAD of what was uploaded, and the
 * CORS preflight browsers send first (§5 "the HTTP server … SHOULD … CORS", so web clients can
 * upload). Served on http.tlsPort only (§5: HTTPS), or on http.port behind a TLS proxy that
 * says `X-Forwarded-Proto: https` when http.trustForwardedFor is on.
 *
 * PUT answers, nothing stored on any refusal: bad or missing signature, another path → 403;
 * expired → 403; no Content-Length → 411; Content-Length not the slot's size → 400; more than
 * upload.maxFileBytes or past the quota → 413; another Content-Type → 400; already uploaded → 409;
 * stored → 201. A refused PUT closes the connection, so a body nobody wants is not read.
 *
 * GET: 404 for anything unknown or expired. Content-Disposition is `inline` only for images
 * (not SVG, which runs scripts), audio and video; anything else is an `attachment`, and every
 * answer has `nosniff` and a sandboxing CSP, so an upload can never run as a page of this origin.
 */
import type http from "node:http";
import { pipeline } from "node:stream/promises";
import { httpConnectionAuthenticated } from "@switchboard/c2s";
import { normaliseContentType, parseUploadPath, type UploadSigner } from "@switchboard/modules";
import type { Logger, Metrics } from "@switchboard/core";
import type { HttpRoute } from "../http.js";
import type { Readable } from "node:stream";
import { BlobIncompleteError, type BlobStore, type ByteRange, type StoredBlob } from "./blob-store.js";

export interface UploadHttpOptions {
  maxFileBytes: number;
  quotaBytesPerUser: number;
  expireDays: number;
  trustForwardedFor: boolean;
}

const CORS = {
  "access-control-allow-origin": "*",
  "access-control-allow-methods": "GET, HEAD, PUT, OPTIONS",
  "access-control-allow-headers": "Authorization, Content-Type",
  "access-control-max-age": "86400",
};
/** A PUT or GET whose connection moves no byte for this long is cut (https.ts: no overall request timeout). */
export const UPLOAD_IDLE_MS = 60_000;
const SAFE = { "x-content-type-options": "nosniff", "content-security-policy": "default-src 'none'; sandbox" };

export function uploadRoute(store: BlobStore, signer: UploadSigner, usage: (owner: string) => Promise<number>, opts: UploadHttpOptions, log: Logger, metrics: Metrics): HttpRoute {
  const answers = metrics.counter("switchboard_upload_http_total", { help: "HTTP File Upload requests (XEP-0363 §5) by method and status", labels: ["method", "status"] });
  const stored = metrics.counter("switchboard_upload_bytes_total", { help: "Bytes of files stored by HTTP File Upload" });
  const refuse = (res: http.ServerResponse, status: number, text: string) => {
    answers.add(1, { method: res.req.method ?? "", status: String(status) });
    // the body, if any, is not wanted: do not read on (keep-alive would)
    res.writeHead(status, { ...CORS, ...SAFE, "content-type": "text/plain; charset=utf-8", connection: "close" }).end(`${text}\n`);
  };
  const expired = (modified: Date) => opts.expireDays > 0 && modified.getTime() < Date.now() - opts.expireDays * 86_400_000;

  return {
    path: "/upload/",
    methods: ["GET", "HEAD", "PUT", "OPTIONS"],
    async handle(req, res, path) {
      try {
        await serve(req, res, path);
      } catch (err) {
        // the store's own words (bucket, endpoint) are for the log, not for clients
        log.warn({ err, path, method: req.method }, "upload request failed in the file store");
        if (!res.headersSent) refuse(res, 503, "the file store is not available; try again later");
        else res.destroy();
      }
    },
  };

  async function serve(req: http.IncomingMessage, res: http.ServerResponse, path: string) {
    if (req.method === "OPTIONS") {
      answers.add(1, { method: "OPTIONS", status: "204" });
      return void res.writeHead(204, CORS).end();
    }
    const secure = (req.socket as { encrypted?: boolean }).encrypted === true || (opts.trustForwardedFor && req.headers["x-forwarded-proto"] === "https");
    if (!secure) return refuse(res, 403, "uploads are served over HTTPS only (http.tlsPort)");
    const parsed = parseUploadPath(path);
    if (!parsed) return refuse(res, 404, "not found");
    if (req.method === "PUT") return put(req, res, path, parsed);
    const rangeHeader = req.method === "GET" ? req.headers.range : undefined;
    // Ranged GETs (video players, resumed downloads) need the size first: one HEAD more.
    const info = req.method === "HEAD" || rangeHeader !== undefined ? await store.head(parsed.key) : await store.get(parsed.key);
    if (!info || expired(info.modified)) {
      (info as { body?: Readable } | undefined)?.body?.resume();
      return refuse(res, 404, "not found");
    }
    const range = rangeHeader === undefined ? undefined : parseRange(rangeHeader, info.size);
    if (range === "unsatisfiable") {
      answers.add(1, { method: "GET", status: "416" });
      return void res.writeHead(416, { ...CORS, ...SAFE, "content-range": `bytes */${info.size}` }).end();
    }
    const blob: (StoredBlob & { body?: Readable }) | undefined = rangeHeader === undefined ? info : await store.get(parsed.key, range);
    if (!blob) return refuse(res, 404, "not found");
    // A download may take longer than the connection's upgrade deadline (c2s listeners);
    // idleness still ends it.
    httpConnectionAuthenticated(req.socket);
    req.setTimeout(UPLOAD_IDLE_MS);
    const status = range ? 206 : 200;
    answers.add(1, { method: req.method ?? "", status: String(status) });
    res.writeHead(status, {
      ...CORS,
      ...SAFE,
      ...contentHeaders(blob.contentType, parsed.name),
      "accept-ranges": "bytes",
      "content-length": String(range ? range.end - range.start + 1 : blob.size),
      ...(range ? { "content-range": `bytes ${range.start}-${range.end}/${blob.size}` } : {}),
      "last-modified": blob.modified.toUTCString(),
      "cache-control": "private, max-age=86400",
    });
    if (!blob.body) return void res.end();
    await pipeline(blob.body, res).catch((err: Error) => log.debug({ err: err.message, key: parsed.key }, "upload download cut"));
  }

  async function put(req: http.IncomingMessage, res: http.ServerResponse, path: string, parsed: NonNullable<ReturnType<typeof parseUploadPath>>) {
    req.on("error", () => {}); // a client that goes away while we check; the store sees it too
    const q = new URL(req.url ?? "/", "https://x").searchParams;
    const size = Number(q.get("size"));
    const contentType = q.get("type") ?? "";
    const expires = Number(q.get("expires"));
    const token = q.get("sig") ?? "";
    const claims = { path, size, contentType, expires };
    if (!Number.isSafeInteger(size) || !Number.isSafeInteger(expires) || !signer.verify(claims, token)) return refuse(res, 403, "this is not a valid upload URL");
    // §4: the client copies the slot's <header/>s; one that names another token is not ours
    const auth = req.headers.authorization;
    if (auth !== undefined && auth !== `Bearer ${token}`) return refuse(res, 403, "the Authorization header does not match this upload URL");
    if (Date.now() / 1000 > expires) return refuse(res, 403, "this upload URL has expired; request a new slot");
    const lengthHeader = req.headers["content-length"];
    if (lengthHeader === undefined) return refuse(res, 411, "Content-Length is required");
    const length = Number(lengthHeader);
    if (size > opts.maxFileBytes || length > opts.maxFileBytes) return refuse(res, 413, `files are limited to ${opts.maxFileBytes} bytes`);
    if (length !== size) return refuse(res, 400, `Content-Length ${lengthHeader} is not the ${size} bytes of the slot`);
    const sentType = normaliseContentType(req.headers["content-type"]);
    if (sentType !== contentType) return refuse(res, 400, `Content-Type ${req.headers["content-type"] ?? "(none)"} is not the slot's ${contentType}`);
    if (await store.head(parsed.key)) return refuse(res, 409, "this slot was used already");
    if (opts.quotaBytesPerUser > 0) {
      // again here: slots handed out at once may together pass what each fit alone
      const used = await usage(parsed.owner);
      if (used + size > opts.quotaBytesPerUser) return refuse(res, 413, `upload quota reached: ${used} of ${opts.quotaBytesPerUser} bytes used`);
    }
    httpConnectionAuthenticated(req.socket);
    req.setTimeout(UPLOAD_IDLE_MS);
    try {
      await store.put(parsed.key, req, size, contentType);
    } catch (err) {
      if (err instanceof BlobIncompleteError) {
        log.info({ key: parsed.key, err: err.message }, "upload not stored: incomplete");
        if (!res.headersSent && !req.destroyed) refuse(res, 400, "the upload did not complete");
        return;
      }
      throw err;
    }
    log.info({ key: parsed.key, size, contentType, store: store.kind }, "file uploaded");
    answers.add(1, { method: "PUT", status: "201" });
    stored.add(size);
    res.writeHead(201, { ...CORS, "content-type": "text/plain; charset=utf-8" }).end("created\n");
  }
}

const INLINE = /^(?:image\/(?:png|jpeg|gif|webp|avif|bmp|heic|heif)|audio\/[a-z0-9.+-]+|video\/[a-z0-9.+-]+)$/;

/** Content-Type and Content-Disposition for a stored type (file comment). */
export function contentHeaders(contentType: string, name: string): Record<string, string> {
  const type = normaliseContentType(contentType) ?? "application/octet-stream";
  const disposition = INLINE.test(type) ? "inline" : "attachment";
  // RFC 6266 §4.3: an ASCII fallback and the exact name in RFC 8187 form
  const ascii = name.replace(/[^\x20-\x7e]|["\\]/g, "_");
  return { "content-type": type, "content-disposition": `${disposition}; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(name)}` };
}

/**
 * One byte range of RFC 9110 §14.1.2 (`bytes=a-b`, `bytes=a-`, `bytes=-n`), clamped to the file;
 * undefined (the whole file, 200) for what we do not serve — several ranges, other units, a
 * malformed header — as §14.2 lets a server ignore Range; "unsatisfiable" for a start past the end.
 */
export function parseRange(header: string, size: number): ByteRange | "unsatisfiable" | undefined {
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === "" && m[2] === "")) return undefined;
  if (m[1] === "") {
    const suffix = Number(m[2]);
    if (suffix === 0) return "unsatisfiable";
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(m[1]);
  const end = m[2] === "" ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (start >= size) return "unsatisfiable";
  if (end < start) return undefined;
  return { start, end };
}
