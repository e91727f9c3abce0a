/**
 * The PostgreSQL archive against a real server (SB_TEST_POSTGRES_URL, default the local
 * 127.0.0.1:5432 as postgres): each archive opened here gets a fresh schema, dropped at the end.
 */
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { archiveContract, messages } from "../../../test/contracts/archive-contract.js";
import { PostgresArchive } from "./postgres-archive.js";

const URL = process.env.SB_TEST_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
const run = `sbt_${process.pid}_${Date.now().toString(36)}`;
const schemas: string[] = [];
const fresh = () => {
  const schema = `${run}_${schemas.length}`;
  schemas.push(schema);
  return schema;
};

afterAll(async () => {
  const client = new pg.Client({ connectionString: URL });
  await client.connect();
  for (const s of schemas) await client.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`);
  await client.end();
});

archiveContract("postgres", (limits) => PostgresArchive.open({ url: URL, schema: fresh(), ...limits }));

describe("PostgresArchive", () => {
  it("writes a burst as few multi-row INSERTs and answers the last page of it", async () => {
    const archive = await PostgresArchive.open({ url: URL, schema: fresh(), maxPerOwner: 0, retentionDays: 0 });
    try {
      const rows = messages("burst@x", 3000);
      for (const r of rows) archive.append([r]);
      const page = await archive.query({ owner: "burst@x", max: 50, fromEnd: true });
      expect(page.count).toBe(3000);
      expect(page.items.at(-1)!.id).toBe(rows.at(-1)!.id);
    } finally {
      await archive.close();
    }
  });

  it("refuses a schema name that is not a plain identifier", async () => {
    await expect(PostgresArchive.open({ url: URL, schema: 'x"; DROP TABLE y; --', maxPerOwner: 0, retentionDays: 0 })).rejects.toThrow(/invalid PostgreSQL schema/);
  });
});
