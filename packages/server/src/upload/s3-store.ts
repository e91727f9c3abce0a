/**
 * The cluster's upload store: an S3-compatible bucket (upload.s3.*), path-style requests
 * signed with SigV4 (sigv4.ts), over node:http(s) with no SDK. Uploads stream through: the
 * PUT body goes to S3 as it arrives, with its Content-Length, so S3 stores all of it or nothing.
 */
import http from "node:http";
import https from "node:https";
import { Transform, type Readable } from "node:stream";
import { BlobIncompleteError, type BlobInfo, type BlobStore, type ByteRange, type StoredBlob } from "./blob-store.js";
import { EMPTY_SHA256, UNSIGNED_PAYLOAD, encodeS3Path, signRequest, type SigV4Credentials } from "./sigv4.js";

export interface S3Settings extends SigV4Credentials {
  endpoint: string;
  bucket: string;
}

export class S3Error extends Error {
  override name = "S3Error";
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

interface S3Response {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: http.IncomingMessage;
}

const REQUEST_TIMEOUT_MS = 30_000;

export class S3BlobStore implements BlobStore {
  readonly kind = "s3" as const;
  private readonly endpoint: URL;
  private readonly agent: http.Agent;

  constructor(private readonly settings: S3Settings) {
    this.endpoint = new URL(settings.endpoint);
    const Agent = this.endpoint.protocol === "https:" ? https.Agent : http.Agent;
    this.agent = new Agent({ keepAlive: true, maxSockets: 64 });
  }

  private url(key?: string, query?: Record<string, string>): URL {
    const base = this.endpoint.pathname.replace(/\/+$/, "");
    const url = new URL(this.endpoint.origin);
    url.pathname = base + encodeS3Path(key === undefined ? [this.settings.bucket] : [this.settings.bucket, key]);
    for (const [k, v] of Object.entries(query ?? {})) url.searchParams.set(k, v);
    return url;
  }

  private request(method: string, url: URL, opts: { headers?: Record<string, string>; body?: Readable; payloadHash?: string } = {}): Promise<S3Response> {
    const headers = signRequest({ method, url, headers: opts.headers, payloadHash: opts.payloadHash ?? EMPTY_SHA256 }, this.settings);
    const lib = url.protocol === "https:" ? https : http;
    return new Promise((resolve, reject) => {
      const req = lib.request(url, { method, headers, agent: this.agent, timeout: REQUEST_TIMEOUT_MS }, (res) =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: res }),
      );
      req.on("timeout", () => req.destroy(new S3Error(0, `S3 ${method} timed out`)));
      req.on("error", reject);
      if (!opts.body) {
        req.end();
        return;
      }
      opts.body.on("error", (err) => req.destroy(err));
      // A body that ends before its Content-Length was aborted by the client: S3 must not get it.
      opts.body.on("aborted", () => req.destroy(new BlobIncompleteError("the client aborted the upload")));
      opts.body.pipe(req);
    });
  }

  async open(): Promise<void> {
    const head = await this.request("HEAD", this.url());
    head.body.resume();
    if (head.status === 200) return;
    if (head.status !== 404) throw new S3Error(head.status, `S3 bucket ${this.settings.bucket}: HEAD answered ${head.status}`);
    const made = await this.request("PUT", this.url());
    const text = await readText(made.body);
    // 409 BucketAlreadyOwnedByYou: another edge made it meanwhile
    if (made.status !== 200 && made.status !== 409) throw new S3Error(made.status, `S3 bucket ${this.settings.bucket} cannot be created: ${made.status} ${text.slice(0, 200)}`);
  }

  async put(key: string, body: Readable, size: number, contentType: string): Promise<void> {
    let res: S3Response;
    try {
      res = await this.request("PUT", this.url(key), { body, payloadHash: UNSIGNED_PAYLOAD, headers: { "content-length": String(size), "content-type": contentType } });
    } catch (err) {
      // S3 itself drops a body shorter than its Content-Length (IncompleteBody); not every
      // compatible store does (s3rver keeps what it got), so what may have landed goes again.
      await this.delete(key).catch(() => {});
      throw err instanceof BlobIncompleteError ? err : new BlobIncompleteError("the upload did not reach the store", { cause: err });
    }
    const text = await readText(res.body);
    if (res.status !== 200) throw new S3Error(res.status, `S3 PUT ${key}: ${res.status} ${text.slice(0, 200)}`);
  }

  async head(key: string): Promise<StoredBlob | undefined> {
    const res = await this.request("HEAD", this.url(key));
    res.body.resume();
    return this.blobOf(key, res);
  }

  async get(key: string, range?: ByteRange): Promise<(StoredBlob & { body: Readable }) | undefined> {
    const res = await this.request("GET", this.url(key), range ? { headers: { range: `bytes=${range.start}-${range.end}` } } : {});
    const blob = this.blobOf(key, res);
    if (!blob) res.body.resume();
    if (!blob || !range) return blob && { ...blob, body: res.body };
    // COMPAT: a store may ignore the range (200) or answer more of it than asked (s3rver for an
    // end of 0): exactly the bytes asked for go on, whatever came.
    const answeredStart = res.status === 206 ? Number(/^bytes (\d+)-/.exec(String(res.headers["content-range"] ?? ""))?.[1] ?? NaN) : 0;
    if (!(answeredStart <= range.start)) {
      res.body.destroy();
      throw new S3Error(res.status, `S3 ${key}: answered ${String(res.headers["content-range"])} for bytes ${range.start}-${range.end}`);
    }
    return { ...blob, body: res.body.pipe(byteWindow(range.start - answeredStart, range.end - range.start + 1)) };
  }

  private blobOf(key: string, res: S3Response): StoredBlob | undefined {
    if (res.status === 404) return undefined;
    if (res.status !== 200 && res.status !== 206) throw new S3Error(res.status, `S3 ${key}: ${res.status}`);
    // a ranged answer's whole size is after the slash of Content-Range
    const total = /\/(\d+)$/.exec(String(res.headers["content-range"] ?? ""))?.[1];
    return {
      key,
      size: Number(total ?? res.headers["content-length"] ?? 0),
      modified: new Date(String(res.headers["last-modified"] ?? 0)),
      contentType: String(res.headers["content-type"] ?? "application/octet-stream"),
    };
  }

  /** ListObjectsV2, every page. */
  async list(prefix: string): Promise<BlobInfo[]> {
    const out: BlobInfo[] = [];
    let token: string | undefined;
    do {
      const query: Record<string, string> = { "list-type": "2", prefix };
      if (token) query["continuation-token"] = token;
      const res = await this.request("GET", this.url(undefined, query));
      const text = await readText(res.body);
      if (res.status !== 200) throw new S3Error(res.status, `S3 list ${prefix}: ${res.status} ${text.slice(0, 200)}`);
      for (const m of text.matchAll(/<Contents>([\s\S]*?)<\/Contents>/g)) {
        const item = m[1]!;
        const key = xmlText(item, "Key");
        if (key === undefined) continue;
        out.push({ key, size: Number(xmlText(item, "Size") ?? 0), modified: new Date(xmlText(item, "LastModified") ?? 0) });
      }
      token = xmlText(text, "IsTruncated") === "true" ? xmlText(text, "NextContinuationToken") : undefined;
    } while (token);
    return out;
  }

  async delete(key: string): Promise<void> {
    const res = await this.request("DELETE", this.url(key));
    const text = await readText(res.body);
    if (res.status !== 204 && res.status !== 200 && res.status !== 404) throw new S3Error(res.status, `S3 DELETE ${key}: ${res.status} ${text.slice(0, 200)}`);
  }
}

/** Text of the first <name> element; keys hold no markup characters (blob-store.ts), entities are decoded anyway. */
function xmlText(xml: string, name: string): string | undefined {
  const m = new RegExp(`<${name}>([^<]*)</${name}>`).exec(xml);
  return m ? m[1]!.replace(/&(lt|gt|quot|apos|amp);/g, (_, e: string) => ({ lt: "<", gt: ">", quot: '"', apos: "'", amp: "&" })[e]!) : undefined;
}

async function readText(body: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

/** Drops `skip` bytes, passes `take`, then ends (and drops whatever else comes). */
function byteWindow(skip: number, take: number): Transform {
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      let part = chunk;
      if (skip > 0) {
        const dropped = Math.min(skip, part.length);
        skip -= dropped;
        part = part.subarray(dropped);
      }
      if (take > 0 && part.length > 0) {
        const kept = part.subarray(0, take);
        take -= kept.length;
        this.push(kept);
        if (take === 0) this.push(null);
      }
      done();
    },
  });
}
