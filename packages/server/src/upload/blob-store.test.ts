/**
 * The single node's upload store (files under <dataDir>/uploads) and the expiry sweep, on a
 * real directory: complete uploads only, keys that cannot leave the root, and expiry by age.
 */
import { mkdtempSync, readdirSync, rmSync, utimesSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough, Readable } from "node:stream";
import { afterEach, describe, expect, it } from "vitest";
import { BlobIncompleteError, FileBlobStore } from "./blob-store.js";
import { sweepExpired } from "./expiry.js";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function store(): { store: FileBlobStore; root: string } {
  const root = join(mkdtempSync(join(tmpdir(), "sb-blobs-")), "uploads");
  dirs.push(root);
  return { store: new FileBlobStore(root), root };
}
const owner = "abcdefabcdefabcdefabcdef";
const key = (id: string, name = "a.txt") => `${owner}/${id.padEnd(22, "x")}/${name}`;

describe("FileBlobStore", () => {
  it("stores a complete upload with its type and lists it under its owner", async () => {
    const { store: s } = store();
    await s.open();
    await s.put(key("a"), Readable.from([Buffer.from("abc")]), 3, "text/plain");
    expect(await s.head(key("a"))).toMatchObject({ size: 3, contentType: "text/plain" });
    expect((await s.list(`${owner}/`)).map((b) => [b.key, b.size])).toEqual([[key("a"), 3]]);
    expect(await s.list("000000000000000000000000/")).toEqual([]);
    await s.delete(key("a"));
    expect(await s.head(key("a"))).toBeUndefined();
  });

  it("leaves nothing behind for a body shorter or longer than announced, or one that fails", async () => {
    const { store: s, root } = store();
    await s.open();
    await expect(s.put(key("s"), Readable.from([Buffer.from("ab")]), 3, "text/plain")).rejects.toBeInstanceOf(BlobIncompleteError);
    await expect(s.put(key("l"), Readable.from([Buffer.from("abcd")]), 3, "text/plain")).rejects.toBeInstanceOf(BlobIncompleteError);
    const body = new PassThrough();
    const put = s.put(key("f"), body, 10, "text/plain");
    body.write("abc");
    body.destroy(new Error("reset"));
    await expect(put).rejects.toBeInstanceOf(BlobIncompleteError);
    expect(await s.list("")).toEqual([]);
    expect(readdirSync(join(root, owner))).toEqual([]);
  });

  it("refuses keys that are not upload keys", async () => {
    const { store: s } = store();
    for (const bad of ["../x", `${owner}/../../etc/passwd`, `${owner}/${"x".repeat(22)}/a/b`, `${owner}/${"x".repeat(22)}/..`]) {
      await expect(s.head(bad), bad).rejects.toThrow(/not an upload key|outside/);
    }
  });
});

describe("upload expiry", () => {
  it("deletes files older than upload.expireDays and keeps the rest; 0 keeps everything", async () => {
    const { store: s, root } = store();
    await s.open();
    await s.put(key("old"), Readable.from([Buffer.from("old")]), 3, "text/plain");
    await s.put(key("new"), Readable.from([Buffer.from("new")]), 3, "text/plain");
    const fortyDaysAgo = new Date(Date.now() - 40 * 86_400_000);
    utimesSync(join(root, key("old")), fortyDaysAgo, fortyDaysAgo);
    expect(await sweepExpired(s, 0)).toBe(0);
    expect(await sweepExpired(s, 30)).toBe(1);
    expect((await s.list("")).map((b) => b.key)).toEqual([key("new")]);
    expect(await sweepExpired(s, 30, Date.now() + 31 * 86_400_000)).toBe(1);
    expect(await s.list("")).toEqual([]);
  });
});
