import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { archiveContract, messages } from "../../../test/contracts/archive-contract.js";
import { ArchiveIds } from "@switchboard/core";
import { SqliteArchive } from "./sqlite-archive.js";

const dir = mkdtempSync(join(tmpdir(), "sb-archive-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

archiveContract("sqlite worker", (limits) => new SqliteArchive(join(dir, `a${n++}`, "archive.sqlite"), limits));

describe("SqliteArchive", () => {
  it("keeps the archive across a reopen of the file", async () => {
    const file = join(dir, "reopen", "archive.sqlite");
    const first = new SqliteArchive(file, { maxPerOwner: 0, retentionDays: 0 });
    first.append(messages("a@x", 3));
    await first.close();
    const again = new SqliteArchive(file, { maxPerOwner: 2, retentionDays: 0 });
    expect((await again.query({ owner: "a@x", max: 10, fromEnd: false })).count).toBe(3);
    // the cap counts what the file already held
    again.append(messages("a@x", 1, { ids: new ArchiveIds("zzz"), start: Date.now() + 10 }));
    expect((await again.query({ owner: "a@x", max: 10, fromEnd: false })).count).toBe(2);
    await again.close();
  });

  it("answers the last 50 of a 100,000-message archive well under 100 ms", async () => {
    const archive = new SqliteArchive(join(dir, "big", "archive.sqlite"), { maxPerOwner: 100_000, retentionDays: 0 });
    try {
      const ids = new ArchiveIds("big");
      const start = Date.now() - 100_000;
      for (let b = 0; b < 10; b++) archive.append(messages("big@x", 10_000, { ids, start: start + b * 10_000 }));
      archive.append(messages("small@x", 10));
      await archive.flush();
      const times: number[] = [];
      for (let i = 0; i < 5; i++) {
        const t = performance.now();
        const page = await archive.query({ owner: "big@x", max: 50, fromEnd: true });
        times.push(performance.now() - t);
        expect(page.items).toHaveLength(50);
        expect(page.count).toBe(100_000);
      }
      times.sort((a, b) => a - b);
      console.log(`MAM: last 50 of 100,000 (with count): median ${times[2]!.toFixed(2)} ms, max ${times[4]!.toFixed(2)} ms`);
      expect(times[2]).toBeLessThan(100);
      // `with` reads the owner's range and filters (no index of its own): half the archive matches
      const withTimes: number[] = [];
      for (let i = 0; i < 5; i++) {
        const t = performance.now();
        const page = await archive.query({ owner: "big@x", with: { bare: "bob@example.com" }, max: 50, fromEnd: true });
        withTimes.push(performance.now() - t);
        expect(page.count).toBe(50_000);
      }
      withTimes.sort((a, b) => a - b);
      console.log(`MAM: last 50 with one contact of 100,000 (with count): median ${withTimes[2]!.toFixed(2)} ms`);
      expect(withTimes[2]).toBeLessThan(100);
    } finally {
      await archive.close();
    }
  }, 120_000);
});
