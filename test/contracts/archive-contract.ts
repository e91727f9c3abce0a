/**
 * Contract tests for the ArchiveStore port (packages/core/src/archive.ts): the in-memory
 * reference, the SQLite worker and PostgreSQL run this same suite (XEP-0313 paging semantics,
 * XEP-0059 RSM windows, the per-owner cap).
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ArchiveIds, type ArchiveLimits, type ArchiveStore, type ArchivedMessage } from "../../packages/core/src/archive.js";

const OWNER = "alice@example.com";
const BOB = "bob@example.com";
const CAROL = "carol@example.com";

export function messages(owner: string, count: number, opts: { ids?: ArchiveIds; start?: number; withOf?: (i: number) => string } = {}): ArchivedMessage[] {
  const ids = opts.ids ?? new ArchiveIds("tst");
  const start = opts.start ?? Date.now();
  return Array.from({ length: count }, (_, i) => {
    const withFull = opts.withOf?.(i) ?? (i % 2 === 0 ? `${BOB}/phone` : `${CAROL}/laptop`);
    const { seq, id } = ids.next(start + i);
    return { owner, seq, id, withBare: withFull.split("/")[0]!, withFull, xml: `<message id='m${i}' to='${withFull}'><body>${i}</body></message>` };
  });
}

const bodies = (items: ArchivedMessage[]) => items.map((m) => /<body>(\d+)</.exec(m.xml)![1]);

export function archiveContract(name: string, open: (limits: ArchiveLimits) => Promise<ArchiveStore> | ArchiveStore): void {
  describe(`ArchiveStore contract: ${name}`, () => {
    let archive: ArchiveStore;
    let rows: ArchivedMessage[];
    beforeEach(async () => {
      archive = await open({ maxPerOwner: 0, retentionDays: 0 });
      rows = messages(OWNER, 10);
      archive.append(rows);
      archive.append(messages("other@example.com", 3, { ids: new ArchiveIds("oth") }));
      await archive.flush();
    });
    afterEach(async () => archive.close());

    it("pages forward from the start with a count and says when the last page is reached", async () => {
      const first = await archive.query({ owner: OWNER, max: 4, fromEnd: false });
      expect(bodies(first.items)).toEqual(["0", "1", "2", "3"]);
      expect(first).toMatchObject({ complete: false, count: 10 });
      const last = await archive.query({ owner: OWNER, max: 4, fromEnd: false, afterId: rows[7]!.id });
      expect(bodies(last.items)).toEqual(["8", "9"]);
      expect(last.complete).toBe(true);
    });

    it("pages backward from the end (<before/>) and before an id, oldest first within the page", async () => {
      const end = await archive.query({ owner: OWNER, max: 3, fromEnd: true });
      expect(bodies(end.items)).toEqual(["7", "8", "9"]);
      expect(end.complete).toBe(false);
      const earlier = await archive.query({ owner: OWNER, max: 3, fromEnd: true, beforeId: rows[2]!.id });
      expect(bodies(earlier.items)).toEqual(["0", "1"]);
      expect(earlier.complete).toBe(true);
    });

    it("filters by bare JID, full JID, time range and ids", async () => {
      expect(bodies((await archive.query({ owner: OWNER, with: { bare: BOB }, max: 50, fromEnd: false })).items)).toEqual(["0", "2", "4", "6", "8"]);
      expect((await archive.query({ owner: OWNER, with: { bare: BOB, full: `${BOB}/other` }, max: 50, fromEnd: false })).count).toBe(0);
      expect((await archive.query({ owner: OWNER, with: { bare: CAROL, full: `${CAROL}/laptop` }, max: 50, fromEnd: false })).count).toBe(5);
      const range = await archive.query({ owner: OWNER, minSeq: rows[3]!.seq, maxSeq: rows[5]!.seq, max: 50, fromEnd: false });
      expect(bodies(range.items)).toEqual(["3", "4", "5"]);
      const picked = await archive.query({ owner: OWNER, ids: [rows[1]!.id, rows[6]!.id, "nope"], max: 50, fromEnd: false });
      expect(bodies(picked.items)).toEqual(["1", "6"]);
    });

    it("refuses an unknown after or before id with ArchiveItemNotFound", async () => {
      await expect(archive.query({ owner: OWNER, afterId: "unknown", max: 5, fromEnd: false })).rejects.toMatchObject({ name: "ArchiveItemNotFound" });
      await expect(archive.query({ owner: OWNER, beforeId: rows[0]!.id + "x", max: 5, fromEnd: true })).rejects.toMatchObject({ name: "ArchiveItemNotFound" });
      // another owner's id is unknown in this archive
      await expect(archive.query({ owner: "other@example.com", afterId: rows[0]!.id, max: 5, fromEnd: false })).rejects.toMatchObject({ name: "ArchiveItemNotFound" });
    });

    it("replaces one message (a retraction tombstone) and finds messages by their sender's id", async () => {
      const found = await archive.findByMessageId(OWNER, CAROL, "m3");
      expect(found?.id).toBe(rows[3]!.id);
      expect(await archive.replace(OWNER, rows[3]!.id, "<message id='m3'><retracted/></message>")).toBe(true);
      const page = await archive.query({ owner: OWNER, ids: [rows[3]!.id], max: 5, fromEnd: false });
      expect(page.items[0]!.xml).toContain("<retracted/>");
      expect(await archive.replace(OWNER, "nope", "<x/>")).toBe(false);
    });

    it("keeps preferences and removes an owner's archive and preferences", async () => {
      expect(await archive.getPrefs(OWNER)).toEqual({ default: "always", always: [], never: [] });
      await archive.setPrefs(OWNER, { default: "roster", always: [BOB], never: [CAROL] });
      expect(await archive.getPrefs(OWNER)).toEqual({ default: "roster", always: [BOB], never: [CAROL] });
      await archive.removeOwner(OWNER);
      expect((await archive.query({ owner: OWNER, max: 5, fromEnd: false })).count).toBe(0);
      expect((await archive.getPrefs(OWNER)).default).toBe("always");
      expect((await archive.query({ owner: "other@example.com", max: 5, fromEnd: false })).count).toBe(3);
    });
  });

  describe(`ArchiveStore contract: ${name}, limits`, () => {
    it("keeps at most maxPerOwner messages per owner, dropping the oldest", async () => {
      const archive = await open({ maxPerOwner: 5, retentionDays: 0 });
      try {
        const ids = new ArchiveIds("cap");
        archive.append(messages(OWNER, 4, { ids }));
        await archive.flush();
        archive.append(messages(OWNER, 4, { ids, start: Date.now() + 1000 }));
        await archive.flush();
        const page = await archive.query({ owner: OWNER, max: 50, fromEnd: false });
        expect(page.count).toBe(5);
        expect(bodies(page.items)).toEqual(["3", "0", "1", "2", "3"]);
      } finally {
        await archive.close();
      }
    });

    it("does not return messages older than retentionDays", async () => {
      const archive = await open({ maxPerOwner: 0, retentionDays: 1 });
      try {
        archive.append(messages(OWNER, 2, { start: Date.now() - 2 * 86_400_000 }));
        archive.append(messages(OWNER, 1, { start: Date.now(), ids: new ArchiveIds("new") }));
        await archive.flush();
        const page = await archive.query({ owner: OWNER, max: 50, fromEnd: false });
        expect(page.count).toBe(1);
      } finally {
        await archive.close();
      }
    });
  });
}
