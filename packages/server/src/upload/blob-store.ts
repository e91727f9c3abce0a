/**
 * Where uploaded files live: a port with two adapters, files under `<dataDir>/uploads` for one
 * node (this file) and an S3-compatible bucket for a cluster (s3-store.ts), where every edge
 * must see every file. Keys are `<owner>/<id>/<encoded name>` (the upload path without its
 * prefix, @switchboard/modules upload/sign.ts): only unreserved characters and `%`, so a key
 * can never climb out of the store.
 */
import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, readFile, readdir, rename, rm, rmdir, stat, writeFile } from "node:fs/promises";
import { randomBytes } from "node:crypto";
import { dirname, join, resolve, sep } from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";

export interface BlobInfo {
  key: string;
  size: number;
  /** when the upload completed */
  modified: Date;
}

export interface StoredBlob extends BlobInfo {
  contentType: string;
}

export interface BlobStore {
  readonly kind: "file" | "s3";
  /** Makes sure the store can be written (the directory, the bucket). */
  open(): Promise<void>;
  /**
   * Stores exactly `size` bytes from `body` under `key`, all or nothing: a body that ends short
   * or fails leaves nothing behind (rejects with BlobIncompleteError).
   */
  put(key: string, body: Readable, size: number, contentType: string): Promise<void>;
  head(key: string): Promise<StoredBlob | undefined>;
  /** The blob and its bytes (only `range`'s, inclusive, when given); undefined when there is none. */
  get(key: string, range?: ByteRange): Promise<(StoredBlob & { body: Readable }) | undefined>;
  /** Every blob whose key starts with `prefix` ("" for all). */
  list(prefix: string): Promise<BlobInfo[]>;
  delete(key: string): Promise<void>;
}

/** first and last byte, inclusive (RFC 9110 §14.1.2) */
export interface ByteRange {
  start: number;
  end: number;
}

export class BlobIncompleteError extends Error {
  override name = "BlobIncompleteError";
}

const KEY = /^[0-9a-f]{24}\/[A-Za-z0-9_-]{22}\/(?:[A-Za-z0-9._~-]|%[0-9A-F]{2})+$/;
/** the sidecar with the content type; `#` is never part of an encoded name, so no file is called this */
const META = "#meta.json";

export class FileBlobStore implements BlobStore {
  readonly kind = "file" as const;
  private readonly root: string;

  constructor(root: string) {
    this.root = resolve(root);
  }

  async open(): Promise<void> {
    await mkdir(this.root, { recursive: true, mode: 0o700 });
  }

  private pathOf(key: string): string {
    if (!KEY.test(key) || key.endsWith("/.") || key.endsWith("/..")) throw new Error(`not an upload key: ${key}`);
    const path = resolve(this.root, key);
    if (!path.startsWith(this.root + sep)) throw new Error(`upload key outside the store: ${key}`);
    return path;
  }

  async put(key: string, body: Readable, size: number, contentType: string): Promise<void> {
    // The body may fail while the directory is made; pipeline() below still sees that error.
    body.on("error", () => {});
    let written = 0;
    body.on("data", (chunk: Buffer) => (written += chunk.length));
    body.pause();
    const path = this.pathOf(key);
    await mkdir(dirname(path), { recursive: true, mode: 0o700 });
    // Written beside its final name and renamed once complete: a reader never sees half a file.
    const part = `${path}.part-${randomBytes(6).toString("hex")}`;
    try {
      await pipeline(body, createWriteStream(part, { flags: "wx", mode: 0o600 }));
      if (written !== size) throw new BlobIncompleteError(`got ${written} of ${size} bytes`);
      await writeFile(join(dirname(path), META), JSON.stringify({ contentType }), { mode: 0o600 });
      await rename(part, path);
    } catch (err) {
      await rm(part, { force: true });
      await rm(join(dirname(path), META), { force: true });
      await rmdir(dirname(path)).catch(() => {});
      throw err instanceof BlobIncompleteError ? err : new BlobIncompleteError("upload did not complete", { cause: err });
    }
  }

  async head(key: string): Promise<StoredBlob | undefined> {
    const path = this.pathOf(key);
    try {
      const [info, meta] = await Promise.all([stat(path), readFile(join(dirname(path), META), "utf8")]);
      const { contentType } = JSON.parse(meta) as { contentType: string };
      return { key, size: info.size, modified: info.mtime, contentType };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw err;
    }
  }

  async get(key: string, range?: ByteRange): Promise<(StoredBlob & { body: Readable }) | undefined> {
    const found = await this.head(key);
    return found && { ...found, body: createReadStream(this.pathOf(key), range) };
  }

  async list(prefix: string): Promise<BlobInfo[]> {
    const out: BlobInfo[] = [];
    for (const owner of await entries(this.root)) {
      for (const id of await entries(join(this.root, owner))) {
        for (const name of await entries(join(this.root, owner, id))) {
          if (name === META || name.includes(".part-")) continue;
          const key = `${owner}/${id}/${name}`;
          if (!key.startsWith(prefix) || !KEY.test(key)) continue;
          const info = await stat(join(this.root, key)).catch(() => undefined);
          if (info) out.push({ key, size: info.size, modified: info.mtime });
        }
      }
    }
    return out;
  }

  async delete(key: string): Promise<void> {
    const path = this.pathOf(key);
    await rm(path, { force: true });
    await rm(join(dirname(path), META), { force: true });
    await rmdir(dirname(path)).catch(() => {});
    await rmdir(dirname(dirname(path))).catch(() => {});
  }
}

async function entries(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT" || (err as NodeJS.ErrnoException).code === "ENOTDIR") return [];
    throw err;
  }
}
