import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, describe, expect, it } from "vitest";
import { fakeCredentials, storeContract } from "../../../test/contracts/store-contract.js";
import { CURRENT_SCHEMA_VERSION, migrate } from "./schema.js";
import { openSqliteStore } from "./sqlite-store.js";

const dir = mkdtempSync(join(tmpdir(), "switchboard-sqlite-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let fileCounter = 0;
const freshFile = () => join(dir, `nested/store-${++fileCounter}.db`);

storeContract("SqliteStore (file)", () => openSqliteStore(freshFile()));
storeContract("SqliteStore (:memory:)", () => openSqliteStore(":memory:"));

describe("SqliteStore persistence", () => {
  it("keeps every kind of data across close and reopen of the same file", async () => {
    const file = freshFile();
    const first = openSqliteStore(file);
    await first.accounts.create("alice@example.com", fakeCredentials("a"));
    const version = await first.roster.put("alice@example.com", {
      jid: "bob@example.com",
      groups: ["Friends"],
      subscription: "both",
      askOut: false,
      askIn: false,
      approved: false,
      inRoster: true,
    });
    await first.offline.push("alice@example.com", "<message id='1'/>", 10);
    await first.offline.push("alice@example.com", "<message id='2'/>", 10);
    await first.vcard.set("alice@example.com", "<vCard xmlns='vcard-temp'/>");
    await first.blocklist.add("alice@example.com", ["spam@example.net"]);
    await first.lastActivity.set("alice@example.com", 1_700_000_000_000, "Heading Home");
    await first.privateXml.set("alice@example.com", [{ namespace: "storage:bookmarks", xml: "<storage xmlns='storage:bookmarks'/>" }], 10);
    await first.bans.set({ jid: "alice@example.com", since: 1, until: Date.now() + 60_000, reason: "spam", by: "ops" });
    await first.close();

    const second = openSqliteStore(file);
    try {
      expect(await second.accounts.get("alice@example.com")).toEqual(fakeCredentials("a"));
      expect(await second.roster.version("alice@example.com")).toBe(version);
      expect((await second.roster.get("alice@example.com", "bob@example.com"))?.groups).toEqual(["Friends"]);
      expect((await second.offline.peek("alice@example.com")).map((stanza) => stanza.xml)).toEqual([
        "<message id='1'/>",
        "<message id='2'/>",
      ]);
      expect(await second.vcard.get("alice@example.com")).toBe("<vCard xmlns='vcard-temp'/>");
      expect(await second.blocklist.list("alice@example.com")).toEqual(["spam@example.net"]);
      expect(await second.lastActivity.get("alice@example.com")).toEqual({ at: 1_700_000_000_000, status: "Heading Home" });
      expect(await second.privateXml.get("alice@example.com", "storage:bookmarks")).toBe("<storage xmlns='storage:bookmarks'/>");
      expect(await second.bans.get("alice@example.com")).toMatchObject({ since: 1, reason: "spam", by: "ops" });
      // The roster version sequence continues after a restart rather than starting over.
      await second.accounts.delete("alice@example.com");
      expect(
        await second.roster.put("alice@example.com", {
          jid: "carol@example.com",
          groups: [],
          subscription: "none",
          askOut: false,
          askIn: false,
          approved: false,
          inRoster: true,
        }),
      ).toBeGreaterThan(version);
    } finally {
      await second.close();
    }
  });

  it("gives a fresh file the current schema version, in WAL mode with synchronous=FULL", async () => {
    const file = freshFile();
    await openSqliteStore(file).close();
    const raw = new Database(file, { readonly: true });
    try {
      expect(CURRENT_SCHEMA_VERSION).toBeGreaterThan(0);
      expect(raw.pragma("user_version", { simple: true })).toBe(CURRENT_SCHEMA_VERSION);
      expect(raw.pragma("journal_mode", { simple: true })).toBe("wal");
    } finally {
      raw.close();
    }
  });

  it("upgrades a file of schema version 1 in place, keeping its data and adding the new tables", async () => {
    const file = freshFile();
    const old = new Database(file);
    migrate(old, 1);
    old.prepare("INSERT INTO accounts (jid, credentials, created_at) VALUES (?, ?, ?)").run("alice@example.com", JSON.stringify(fakeCredentials("a")), 1);
    old.prepare("INSERT INTO vcard (owner, xml) VALUES (?, ?)").run("alice@example.com", "<vCard xmlns='vcard-temp'/>");
    expect(old.pragma("user_version", { simple: true })).toBe(1);
    old.close();

    const store = openSqliteStore(file);
    try {
      expect(await store.accounts.get("alice@example.com")).toEqual(fakeCredentials("a"));
      expect(await store.vcard.get("alice@example.com")).toBe("<vCard xmlns='vcard-temp'/>");
      await store.lastActivity.set("alice@example.com", 42, "bye");
      expect(await store.lastActivity.get("alice@example.com")).toEqual({ at: 42, status: "bye" });
      expect(await store.privateXml.set("alice@example.com", [{ namespace: "a:ns", xml: "<a xmlns='a:ns'/>" }], 1)).toBe(true);
    } finally {
      await store.close();
    }
    const raw = new Database(file, { readonly: true });
    try {
      expect(raw.pragma("user_version", { simple: true })).toBe(CURRENT_SCHEMA_VERSION);
    } finally {
      raw.close();
    }
  });

  it("upgrades a file of schema version 4 (before bans) in place, adding the bans table", async () => {
    const file = freshFile();
    const old = new Database(file);
    migrate(old, 4);
    old.prepare("INSERT INTO accounts (jid, credentials, created_at) VALUES (?, ?, ?)").run("alice@example.com", JSON.stringify(fakeCredentials("a")), 1);
    expect(old.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'bans'").get()).toBeUndefined();
    old.close();

    const store = openSqliteStore(file);
    try {
      expect(await store.accounts.get("alice@example.com")).toEqual(fakeCredentials("a"));
      await store.bans.set({ jid: "alice@example.com", since: 2 });
      expect(await store.bans.list()).toEqual([{ jid: "alice@example.com", since: 2 }]);
    } finally {
      await store.close();
    }
    const raw = new Database(file, { readonly: true });
    try {
      expect(raw.pragma("user_version", { simple: true })).toBe(CURRENT_SCHEMA_VERSION);
      expect(CURRENT_SCHEMA_VERSION).toBeGreaterThanOrEqual(5);
    } finally {
      raw.close();
    }
  });

  it("refuses a file written by a newer schema version, naming the cause", async () => {
    const file = freshFile();
    await openSqliteStore(file).close();
    const raw = new Database(file);
    raw.pragma(`user_version = ${CURRENT_SCHEMA_VERSION + 1}`);
    raw.close();
    expect(() => openSqliteStore(file)).toThrow(
      expect.objectContaining({ name: "SqliteStoreOpenError", cause: expect.objectContaining({ name: "SchemaVersionError" }) }),
    );
  });

  it("close is idempotent", async () => {
    const store = openSqliteStore(freshFile());
    await store.close();
    await expect(store.close()).resolves.toBeUndefined();
  });
});
