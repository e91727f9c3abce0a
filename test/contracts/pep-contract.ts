/**
 * The PEP part of the Store contract (ports.ts PepStore): nodes, items in publication order,
 * the per-node cap, and the caps cache behave alike in memory, SQLite and Redis.
 */
import { describe, expect, it } from "vitest";
import type { PepItem, PepNodeConfig, Store } from "../../packages/core/src/ports.js";

const ALICE = "alice@example.com";
const BOB = "bob@example.com";
const CONFIG: PepNodeConfig = { accessModel: "presence", maxItems: 3, persistItems: true, notifyRetract: true };
const item = (id: string, xml = `<p xmlns='urn:x'>${id}</p>`): PepItem => ({ id, xml, publisher: ALICE, at: 1_700_000_000_000 });
const ids = (items: PepItem[]) => items.map((i) => i.id);

export function pepContract(store: () => Store): void {
  describe("pep", () => {
    it("creates a node once, lists nodes by name, and refuses a new node past the limit", async () => {
      const s = store();
      expect(await s.pep.create(ALICE, "urn:b", CONFIG, 2)).toBe("created");
      expect(await s.pep.create(ALICE, "urn:b", { ...CONFIG, maxItems: 9 }, 2)).toBe("exists");
      expect(await s.pep.create(ALICE, "urn:a", { ...CONFIG, accessModel: "open", title: "A & <b>" }, 2)).toBe("created");
      expect(await s.pep.create(ALICE, "urn:c", CONFIG, 2)).toBe("limit");
      expect(await s.pep.create(BOB, "urn:c", CONFIG, 2)).toBe("created");
      expect(await s.pep.nodes(ALICE)).toEqual([
        { node: "urn:a", config: { ...CONFIG, accessModel: "open", title: "A & <b>" } },
        { node: "urn:b", config: CONFIG },
      ]);
      expect(await s.pep.node(ALICE, "urn:b")).toEqual(CONFIG);
      expect(await s.pep.node(ALICE, "urn:c")).toBeUndefined();
      const both = await s.pep.nodesOf([ALICE, "nobody@example.com", BOB]);
      expect([...both.keys()]).toEqual([ALICE, BOB]);
      expect(both.get(ALICE)!.map((n) => n.node)).toEqual(["urn:a", "urn:b"]);
      expect(await s.pep.nodesOf([])).toEqual(new Map());
    });

    it("keeps items newest first, replaces an id as the newest, and drops the oldest past the cap", async () => {
      const s = store();
      await s.pep.create(ALICE, "n", CONFIG, 10);
      for (const id of ["1", "2", "3"]) expect(await s.pep.publish(ALICE, "n", item(id), 3)).toBe(true);
      expect(await s.pep.publish(ALICE, "n", item("1", "<p xmlns='urn:x'>again</p>"), 3)).toBe(true);
      expect(ids(await s.pep.items(ALICE, "n"))).toEqual(["1", "3", "2"]);
      expect((await s.pep.items(ALICE, "n", 1))[0]).toEqual(item("1", "<p xmlns='urn:x'>again</p>"));
      await s.pep.publish(ALICE, "n", item("4"), 3);
      expect(ids(await s.pep.items(ALICE, "n"))).toEqual(["4", "1", "3"]);
      expect(ids(await s.pep.itemsById(ALICE, "n", ["3", "2", "4"]))).toEqual(["4", "3"]);
      expect(await s.pep.publish(ALICE, "missing", item("x"), 3)).toBe(false);
      expect(await s.pep.items(BOB, "n")).toEqual([]);
    });

    it("retracts one item, configures with a smaller cap, and deletes a node with its items", async () => {
      const s = store();
      await s.pep.create(ALICE, "n", CONFIG, 10);
      for (const id of ["1", "2", "3"]) await s.pep.publish(ALICE, "n", item(id), 3);
      expect(await s.pep.retract(ALICE, "n", "2")).toBe(true);
      expect(await s.pep.retract(ALICE, "n", "2")).toBe(false);
      expect(ids(await s.pep.items(ALICE, "n"))).toEqual(["3", "1"]);
      expect(await s.pep.configure(ALICE, "n", { ...CONFIG, maxItems: 1, accessModel: "whitelist" })).toBe(true);
      expect(ids(await s.pep.items(ALICE, "n"))).toEqual(["3"]);
      expect(await s.pep.node(ALICE, "n")).toMatchObject({ maxItems: 1, accessModel: "whitelist" });
      expect(await s.pep.configure(ALICE, "other", CONFIG)).toBe(false);
      expect(await s.pep.delete(ALICE, "n")).toBe(true);
      expect(await s.pep.delete(ALICE, "n")).toBe(false);
      expect(await s.pep.items(ALICE, "n")).toEqual([]);
      // re-created, it starts empty
      await s.pep.create(ALICE, "n", CONFIG, 10);
      expect(await s.pep.items(ALICE, "n")).toEqual([]);
    });

    it("account deletion wipes the user's nodes but nobody else's", async () => {
      const s = store();
      for (const bare of [ALICE, BOB]) {
        await s.accounts.create(bare, { "SCRAM-SHA-1": { salt: "c2FsdA==", iterations: 4096, storedKey: "a", serverKey: "b" } } as never);
        await s.pep.create(bare, "n", CONFIG, 10);
        await s.pep.publish(bare, "n", item("1"), 3);
      }
      await s.accounts.delete(ALICE);
      expect(await s.pep.nodes(ALICE)).toEqual([]);
      expect(await s.pep.items(ALICE, "n")).toEqual([]);
      expect(ids(await s.pep.items(BOB, "n"))).toEqual(["1"]);
    });

    it("caches caps features by key", async () => {
      const s = store();
      expect(await s.pep.capsGet("sha-1 abc=")).toBeUndefined();
      await s.pep.capsPut("sha-1 abc=", ["urn:x+notify", "jabber:iq:version"]);
      expect(await s.pep.capsGet("sha-1 abc=")).toEqual(["urn:x+notify", "jabber:iq:version"]);
    });
  });
}
