/**
 * Contract tests for the Store port (packages/core/src/ports.ts). Every Store implementation
 * (memory, SQLite, later Redis) runs this same suite, so behaviour is identical whichever
 * backend a deployment picks (ARCHITECTURE.md "Behaviour is identical in both modes").
 *
 * Errors are matched by `name`, not by class identity, so an adapter that re-creates the error
 * classes across a package boundary still passes.
 */

import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { AccountCredentials, Ban, RosterItem, Store } from "../../packages/core/src/ports.js";
import { fastTokenContract } from "./fast-token-contract.js";
import { pepContract } from "./pep-contract.js";

/** Fake SCRAM material; the store treats it as opaque data. */
export function fakeCredentials(tag: string): AccountCredentials {
  const credential = (hash: string) => ({
    salt: Buffer.from(`salt-${tag}-${hash}`).toString("base64"),
    iterations: 4096,
    storedKey: Buffer.from(`stored-${tag}-${hash}`).toString("base64"),
    serverKey: Buffer.from(`server-${tag}-${hash}`).toString("base64"),
  });
  return { "SCRAM-SHA-1": credential("1"), "SCRAM-SHA-256": credential("256") };
}

function rosterItem(jid: string, patch: Partial<RosterItem> = {}): RosterItem {
  return { jid, groups: [], subscription: "none", askOut: false, askIn: false, approved: false, inRoster: true, ...patch };
}

const ALICE = "alice@example.com";
const BOB = "bob@example.com";
const CAROL = "carol@example.com";

async function xmlOf(peeked: Promise<Array<{ xml: string }>>): Promise<string[]> {
  return (await peeked).map((stored) => stored.xml);
}

export function storeContract(name: string, open: () => Promise<Store> | Store): void {
  describe(`Store contract: ${name}`, () => {
    let store: Store;
    beforeEach(async () => {
      store = await open();
    });
    afterEach(async () => {
      await store.close();
    });

    describe("accounts", () => {
      it("creates an account and returns its credentials", async () => {
        await store.accounts.create(ALICE, fakeCredentials("a"));
        expect(await store.accounts.exists(ALICE)).toBe(true);
        expect(await store.accounts.get(ALICE)).toEqual(fakeCredentials("a"));
        expect(await store.accounts.exists(BOB)).toBe(false);
        expect(await store.accounts.get(BOB)).toBeUndefined();
      });

      it("rejects creating an existing account with AccountExistsError and keeps the old credentials", async () => {
        await store.accounts.create(ALICE, fakeCredentials("a"));
        await expect(store.accounts.create(ALICE, fakeCredentials("b"))).rejects.toMatchObject({
          name: "AccountExistsError",
          bare: ALICE,
        });
        expect(await store.accounts.get(ALICE)).toEqual(fakeCredentials("a"));
      });

      it("replaces credentials, and rejects with AccountNotFoundError for a missing account", async () => {
        await store.accounts.create(ALICE, fakeCredentials("a"));
        await store.accounts.setCredentials(ALICE, fakeCredentials("b"));
        expect(await store.accounts.get(ALICE)).toEqual(fakeCredentials("b"));
        await expect(store.accounts.setCredentials(BOB, fakeCredentials("b"))).rejects.toMatchObject({
          name: "AccountNotFoundError",
          bare: BOB,
        });
        expect(await store.accounts.exists(BOB)).toBe(false);
      });

      it("lists bare JIDs in lexical order", async () => {
        for (const bare of [CAROL, ALICE, "zed@a.example", BOB]) {
          await store.accounts.create(bare, fakeCredentials(bare));
        }
        expect(await store.accounts.list()).toEqual([ALICE, BOB, CAROL, "zed@a.example"]);
      });

      it("delete returns true once, then false when absent", async () => {
        await store.accounts.create(ALICE, fakeCredentials("a"));
        expect(await store.accounts.delete(ALICE)).toBe(true);
        expect(await store.accounts.exists(ALICE)).toBe(false);
        expect(await store.accounts.delete(ALICE)).toBe(false);
        expect(await store.accounts.list()).toEqual([]);
      });

      it("delete wipes the user's roster, offline messages, vCard, blocklist, last activity and private XML but nobody else's", async () => {
        for (const bare of [ALICE, BOB]) {
          await store.accounts.create(bare, fakeCredentials(bare));
          await store.roster.put(bare, rosterItem(CAROL));
          await store.offline.push(bare, `<message to='${bare}'/>`, 10);
          await store.vcard.set(bare, `<vCard xmlns='vcard-temp'><FN>${bare}</FN></vCard>`);
          await store.blocklist.add(bare, ["spam@example.net"]);
          await store.lastActivity.set(bare, 1_700_000_000_000, `bye from ${bare}`);
          expect(await store.privateXml.set(bare, [{ namespace: "storage:bookmarks", xml: `<storage xmlns='storage:bookmarks'>${bare}</storage>` }], 10)).toBe(true);
          expect(await store.push.put(bare, { jid: "push.example.net", node: bare }, 10)).toBe(true);
        }
        expect(await store.accounts.delete(ALICE)).toBe(true);

        expect(await store.roster.list(ALICE)).toEqual([]);
        expect(await store.roster.get(ALICE, CAROL)).toBeUndefined();
        expect(await store.offline.count(ALICE)).toBe(0);
        expect(await store.offline.peek(ALICE)).toEqual([]);
        expect(await store.vcard.get(ALICE)).toBeUndefined();
        expect(await store.blocklist.list(ALICE)).toEqual([]);
        expect(await store.lastActivity.get(ALICE)).toBeUndefined();
        expect(await store.privateXml.get(ALICE, "storage:bookmarks")).toBeUndefined();
        expect(await store.privateXml.count(ALICE)).toBe(0);

        expect(await store.roster.list(BOB)).toEqual([rosterItem(CAROL)]);
        expect(await store.offline.count(BOB)).toBe(1);
        expect(await store.vcard.get(BOB)).toContain(BOB);
        expect(await store.blocklist.list(BOB)).toEqual(["spam@example.net"]);
        expect(await store.lastActivity.get(BOB)).toEqual({ at: 1_700_000_000_000, status: `bye from ${BOB}` });
        expect(await store.privateXml.get(BOB, "storage:bookmarks")).toContain(BOB);
        expect(await store.push.list(ALICE)).toEqual([]);
        expect(await store.push.list(BOB)).toEqual([{ jid: "push.example.net", node: BOB }]);
      });

      it("a re-created account starts with an empty roster and never reuses an old roster version", async () => {
        await store.accounts.create(ALICE, fakeCredentials("a"));
        const oldVersion = await store.roster.put(ALICE, rosterItem(BOB));
        await store.accounts.delete(ALICE);
        await store.accounts.create(ALICE, fakeCredentials("a"));
        expect(await store.roster.list(ALICE)).toEqual([]);
        expect(await store.roster.put(ALICE, rosterItem(CAROL))).toBeGreaterThan(oldVersion);
      });

      it("createMany reports created/exists per entry in order, including duplicates within the batch", async () => {
        expect(store.accounts.createMany).toBeTypeOf("function");
        await store.accounts.create(BOB, fakeCredentials("old"));
        const results = await store.accounts.createMany!([
          { bare: ALICE, credentials: fakeCredentials("a") },
          { bare: BOB, credentials: fakeCredentials("new") },
          { bare: CAROL, credentials: fakeCredentials("c") },
          { bare: ALICE, credentials: fakeCredentials("again") },
        ]);
        expect(results).toEqual(["created", "exists", "created", "exists"]);
        expect(await store.accounts.list()).toEqual([ALICE, BOB, CAROL]);
        expect(await store.accounts.get(ALICE)).toEqual(fakeCredentials("a"));
        expect(await store.accounts.get(BOB)).toEqual(fakeCredentials("old"));
      });

      it("returns copies: mutating what was passed in or handed out does not change the store", async () => {
        const credentials = fakeCredentials("a");
        await store.accounts.create(ALICE, credentials);
        credentials["SCRAM-SHA-256"].iterations = 1;
        const fetched = (await store.accounts.get(ALICE))!;
        expect(fetched["SCRAM-SHA-256"].iterations).toBe(4096);
        fetched["SCRAM-SHA-1"].salt = "tampered";
        expect((await store.accounts.get(ALICE))!["SCRAM-SHA-1"].salt).toBe(fakeCredentials("a")["SCRAM-SHA-1"].salt);
      });
    });

    describe("roster", () => {
      it("starts empty at version 0", async () => {
        expect(await store.roster.list(ALICE)).toEqual([]);
        expect(await store.roster.get(ALICE, BOB)).toBeUndefined();
        expect(await store.roster.version(ALICE)).toBe(0);
      });

      it("puts, replaces and gets items with every field intact", async () => {
        const full = rosterItem(BOB, {
          name: "Bob",
          groups: ["Friends", "Work"],
          subscription: "both",
          askOut: true,
          askIn: true,
          askInStatus: "let me in",
          approved: true,
          inRoster: false,
        });
        await store.roster.put(ALICE, full);
        expect(await store.roster.get(ALICE, BOB)).toEqual(full);
        await store.roster.put(ALICE, rosterItem(BOB, { subscription: "to" }));
        expect(await store.roster.get(ALICE, BOB)).toEqual(rosterItem(BOB, { subscription: "to" }));
        expect(await store.roster.list(ALICE)).toHaveLength(1);
      });

      it("lists every entry of the owner only, including inRoster=false state entries", async () => {
        await store.roster.put(ALICE, rosterItem(BOB));
        await store.roster.put(ALICE, rosterItem(CAROL, { inRoster: false, askIn: true }));
        await store.roster.put(BOB, rosterItem(ALICE));
        const byJid = (a: RosterItem, b: RosterItem) => a.jid.localeCompare(b.jid);
        expect((await store.roster.list(ALICE)).sort(byJid)).toEqual(
          [rosterItem(BOB), rosterItem(CAROL, { inRoster: false, askIn: true })].sort(byJid),
        );
        expect(await store.roster.list(BOB)).toEqual([rosterItem(ALICE)]);
      });

      it("put and remove bump the version monotonically per owner", async () => {
        const v1 = await store.roster.put(ALICE, rosterItem(BOB));
        expect(v1).toBeGreaterThan(0);
        expect(await store.roster.version(ALICE)).toBe(v1);
        const v2 = await store.roster.put(ALICE, rosterItem(CAROL));
        expect(v2).toBeGreaterThan(v1);
        const v3 = await store.roster.remove(ALICE, BOB);
        expect(v3).toBeGreaterThan(v2);
        expect(await store.roster.version(ALICE)).toBe(v3);
        expect(await store.roster.get(ALICE, BOB)).toBeUndefined();
        expect(await store.roster.list(ALICE)).toEqual([rosterItem(CAROL)]);
        // Another owner's changes leave Alice's version alone.
        await store.roster.put(BOB, rosterItem(ALICE));
        expect(await store.roster.version(ALICE)).toBe(v3);
      });

      it("returns copies of items", async () => {
        const item = rosterItem(BOB, { groups: ["Friends"] });
        await store.roster.put(ALICE, item);
        item.groups.push("Injected");
        const fetched = (await store.roster.get(ALICE, BOB))!;
        expect(fetched.groups).toEqual(["Friends"]);
        fetched.groups.push("Mutated");
        fetched.subscription = "both";
        (await store.roster.list(ALICE))[0]!.groups.push("Mutated");
        expect(await store.roster.get(ALICE, BOB)).toEqual(rosterItem(BOB, { groups: ["Friends"] }));
      });
    });

    describe("offline", () => {
      it("stores up to the cap exactly, then refuses and stores nothing", async () => {
        for (let i = 0; i < 3; i++) {
          expect(await store.offline.push(ALICE, `<message id='${i}'/>`, 3)).toBe(true);
        }
        expect(await store.offline.count(ALICE)).toBe(3);
        expect(await store.offline.push(ALICE, "<message id='over'/>", 3)).toBe(false);
        expect(await store.offline.count(ALICE)).toBe(3);
        expect(await xmlOf(store.offline.peek(ALICE))).not.toContain("<message id='over'/>");
      });

      it("a cap of 0 stores nothing; the cap counts per user", async () => {
        expect(await store.offline.push(ALICE, "<message/>", 0)).toBe(false);
        expect(await store.offline.count(ALICE)).toBe(0);
        expect(await store.offline.push(BOB, "<message id='b'/>", 1)).toBe(true);
        expect(await store.offline.push(ALICE, "<message id='a'/>", 1)).toBe(true);
        expect(await store.offline.push(BOB, "<message id='b2'/>", 1)).toBe(false);
      });

      it("concurrent pushes never exceed the cap", async () => {
        const results = await Promise.all(
          Array.from({ length: 20 }, (_, i) => store.offline.push(ALICE, `<message id='${i}'/>`, 5)),
        );
        expect(results.filter(Boolean)).toHaveLength(5);
        expect(await store.offline.count(ALICE)).toBe(5);
      });

      it("peek returns stanzas in arrival order and removes nothing", async () => {
        const stanzas = Array.from({ length: 12 }, (_, i) => `<message id='m${i}'><body>${i}</body></message>`);
        for (const xml of stanzas) await store.offline.push(ALICE, xml, 100);
        await store.offline.push(BOB, "<message id='bob'/>", 100);
        expect(await xmlOf(store.offline.peek(ALICE))).toEqual(stanzas);
        expect(await xmlOf(store.offline.peek(ALICE))).toEqual(stanzas);
        expect(await store.offline.count(ALICE)).toBe(12);
        expect(await xmlOf(store.offline.peek(BOB))).toEqual(["<message id='bob'/>"]);
        expect(await store.offline.peek(CAROL)).toEqual([]);
      });

      it("peek with a limit returns only the oldest stanzas, with distinct ids", async () => {
        for (let i = 0; i < 5; i++) await store.offline.push(ALICE, `<message id='${i}'/>`, 100);
        const firstTwo = await store.offline.peek(ALICE, 2);
        expect(firstTwo.map((stored) => stored.xml)).toEqual(["<message id='0'/>", "<message id='1'/>"]);
        expect(await store.offline.peek(ALICE, 0)).toEqual([]);
        expect(await xmlOf(store.offline.peek(ALICE, 50))).toHaveLength(5);
        const ids = (await store.offline.peek(ALICE)).map((stored) => stored.id);
        expect(new Set(ids).size).toBe(5);
        expect(ids.slice(0, 2)).toEqual(firstTwo.map((stored) => stored.id));
      });

      it("remove deletes exactly the given ids and keeps the rest in order", async () => {
        for (let i = 0; i < 5; i++) await store.offline.push(ALICE, `<message id='${i}'/>`, 100);
        await store.offline.push(BOB, "<message id='bob'/>", 100);
        const stored = await store.offline.peek(ALICE);
        await store.offline.remove(ALICE, [stored[0]!.id, stored[2]!.id]);
        expect(await xmlOf(store.offline.peek(ALICE))).toEqual(["<message id='1'/>", "<message id='3'/>", "<message id='4'/>"]);
        expect(await store.offline.count(ALICE)).toBe(3);
        // Removing Bob's stanza leaves Alice's alone (ids are only meaningful per owner).
        await store.offline.remove(BOB, (await store.offline.peek(BOB)).map((entry) => entry.id));
        expect(await store.offline.count(ALICE)).toBe(3);
        expect(await store.offline.count(BOB)).toBe(0);
      });

      it("remove is idempotent and ignores unknown ids", async () => {
        await store.offline.push(ALICE, "<message id='1'/>", 100);
        await store.offline.push(ALICE, "<message id='2'/>", 100);
        const [first] = await store.offline.peek(ALICE, 1);
        await store.offline.remove(ALICE, [first!.id]);
        await store.offline.remove(ALICE, [first!.id, "no-such-id", "999999999-0", "424242"]);
        await store.offline.remove(ALICE, []);
        expect(await xmlOf(store.offline.peek(ALICE))).toEqual(["<message id='2'/>"]);
      });

      it("a stanza pushed after a peek survives removal of the peeked ids", async () => {
        await store.offline.push(ALICE, "<message id='1'/>", 100);
        const peeked = await store.offline.peek(ALICE);
        await store.offline.push(ALICE, "<message id='2'/>", 100);
        await store.offline.remove(ALICE, peeked.map((stored) => stored.id));
        expect(await xmlOf(store.offline.peek(ALICE))).toEqual(["<message id='2'/>"]);
      });

      it("after removing everything the full cap is available again", async () => {
        await store.offline.push(ALICE, "<message id='1'/>", 1);
        expect(await store.offline.push(ALICE, "<message id='x'/>", 1)).toBe(false);
        await store.offline.remove(ALICE, (await store.offline.peek(ALICE)).map((stored) => stored.id));
        expect(await store.offline.count(ALICE)).toBe(0);
        expect(await store.offline.push(ALICE, "<message id='2'/>", 1)).toBe(true);
        expect(await xmlOf(store.offline.peek(ALICE))).toEqual(["<message id='2'/>"]);
      });
    });

    describe("vcard", () => {
      it("is undefined until set, then set replaces", async () => {
        expect(await store.vcard.get(ALICE)).toBeUndefined();
        await store.vcard.set(ALICE, "<vCard xmlns='vcard-temp'><FN>A</FN></vCard>");
        expect(await store.vcard.get(ALICE)).toBe("<vCard xmlns='vcard-temp'><FN>A</FN></vCard>");
        await store.vcard.set(ALICE, "<vCard xmlns='vcard-temp'><FN>B</FN></vCard>");
        expect(await store.vcard.get(ALICE)).toBe("<vCard xmlns='vcard-temp'><FN>B</FN></vCard>");
        expect(await store.vcard.get(BOB)).toBeUndefined();
      });
    });

    describe("last activity", () => {
      it("is undefined until set, then set replaces time and status, per user", async () => {
        expect(await store.lastActivity.get(ALICE)).toBeUndefined();
        await store.lastActivity.set(ALICE, 1_700_000_000_123, "Heading Home");
        expect(await store.lastActivity.get(ALICE)).toEqual({ at: 1_700_000_000_123, status: "Heading Home" });
        await store.lastActivity.set(ALICE, 1_700_000_999_000);
        const replaced = await store.lastActivity.get(ALICE);
        expect(replaced).toEqual({ at: 1_700_000_999_000 });
        expect(replaced).not.toHaveProperty("status");
        expect(await store.lastActivity.get(BOB)).toBeUndefined();
      });

      it("keeps an empty status and characters that need escaping as they were", async () => {
        await store.lastActivity.set(ALICE, 1, "");
        expect(await store.lastActivity.get(ALICE)).toEqual({ at: 1, status: "" });
        await store.lastActivity.set(BOB, 2, `<b>"quoted" & 'ünïcødé' 🙂</b>`);
        expect((await store.lastActivity.get(BOB))?.status).toBe(`<b>"quoted" & 'ünïcødé' 🙂</b>`);
      });

      it("returns copies", async () => {
        await store.lastActivity.set(ALICE, 5, "away");
        const fetched = (await store.lastActivity.get(ALICE))!;
        fetched.at = 0;
        fetched.status = "tampered";
        expect(await store.lastActivity.get(ALICE)).toEqual({ at: 5, status: "away" });
      });
    });

    describe("persistent rooms", () => {
      it("puts, replaces, gets and deletes a room, and lists one domain's rooms in JID order", async () => {
        expect(await store.rooms.get("lounge@conference.example.com")).toBeUndefined();
        await store.rooms.put({ jid: "lounge@conference.example.com", data: '{"v":1}' });
        await store.rooms.put({ jid: "attic@conference.example.com", data: '{"name":"<&>\\"\u00e9"}' });
        await store.rooms.put({ jid: "other@muc.example.org", data: "{}" });
        await store.rooms.put({ jid: "lounge@conference.example.com", data: '{"v":2}' });
        expect(await store.rooms.get("lounge@conference.example.com")).toEqual({ jid: "lounge@conference.example.com", data: '{"v":2}' });
        expect(await store.rooms.list("conference.example.com")).toEqual([
          { jid: "attic@conference.example.com", data: '{"name":"<&>\\"\u00e9"}' },
          { jid: "lounge@conference.example.com", data: '{"v":2}' },
        ]);
        expect(await store.rooms.delete("attic@conference.example.com")).toBe(true);
        expect(await store.rooms.delete("attic@conference.example.com")).toBe(false);
        expect((await store.rooms.list("conference.example.com")).map((r) => r.jid)).toEqual(["lounge@conference.example.com"]);
        expect((await store.rooms.list("muc.example.org")).map((r) => r.jid)).toEqual(["other@muc.example.org"]);
      });

      it("keeps rooms when an account is deleted", async () => {
        await store.accounts.create(ALICE, fakeCredentials("a"));
        await store.rooms.put({ jid: "alice@conference.example.com", data: "{}" });
        await store.accounts.delete(ALICE);
        expect(await store.rooms.get("alice@conference.example.com")).toEqual({ jid: "alice@conference.example.com", data: "{}" });
      });
    });

    describe("private XML", () => {
      const payload = (namespace: string, text = "") => ({ namespace, xml: `<q xmlns='${namespace}'>${text}</q>` });

      it("is undefined until set, then set replaces, per user and per namespace", async () => {
        expect(await store.privateXml.get(ALICE, "a:ns")).toBeUndefined();
        expect(await store.privateXml.count(ALICE)).toBe(0);
        expect(await store.privateXml.set(ALICE, [payload("a:ns", "one")], 10)).toBe(true);
        expect(await store.privateXml.set(ALICE, [payload("b:ns", "two")], 10)).toBe(true);
        expect(await store.privateXml.set(ALICE, [payload("a:ns", "three")], 10)).toBe(true);
        expect(await store.privateXml.get(ALICE, "a:ns")).toBe("<q xmlns='a:ns'>three</q>");
        expect(await store.privateXml.get(ALICE, "b:ns")).toBe("<q xmlns='b:ns'>two</q>");
        expect(await store.privateXml.count(ALICE)).toBe(2);
        expect(await store.privateXml.get(BOB, "a:ns")).toBeUndefined();
        expect(await store.privateXml.count(BOB)).toBe(0);
      });

      it("stores several namespaces at once and keeps the XML verbatim", async () => {
        const odd = { namespace: "urn:x:ünï", xml: `<q xmlns='urn:x:ünï'>&lt;&amp; 🙂 "x"</q>` };
        expect(await store.privateXml.set(ALICE, [payload("a:ns"), odd], 10)).toBe(true);
        expect(await store.privateXml.get(ALICE, "urn:x:ünï")).toBe(odd.xml);
        expect(await store.privateXml.get(ALICE, "a:ns")).toBe("<q xmlns='a:ns'></q>");
      });

      it("refuses a new namespace past the cap and stores nothing, but still replaces held ones", async () => {
        await store.privateXml.set(ALICE, [payload("a:ns", "1"), payload("b:ns", "1")], 2);
        expect(await store.privateXml.set(ALICE, [payload("c:ns")], 2)).toBe(false);
        expect(await store.privateXml.get(ALICE, "c:ns")).toBeUndefined();
        expect(await store.privateXml.set(ALICE, [payload("b:ns", "2")], 2)).toBe(true);
        expect(await store.privateXml.get(ALICE, "b:ns")).toBe("<q xmlns='b:ns'>2</q>");
        // all or nothing: the held namespace in a refused request keeps its old value
        expect(await store.privateXml.set(ALICE, [payload("a:ns", "changed"), payload("d:ns")], 2)).toBe(false);
        expect(await store.privateXml.get(ALICE, "a:ns")).toBe("<q xmlns='a:ns'>1</q>");
        expect(await store.privateXml.count(ALICE)).toBe(2);
        // the cap counts per user
        expect(await store.privateXml.set(BOB, [payload("c:ns")], 2)).toBe(true);
      });

      it("concurrent sets of new namespaces never pass the cap", async () => {
        const results = await Promise.all(
          Array.from({ length: 12 }, (_, i) => store.privateXml.set(ALICE, [payload(`ns:${i}`)], 4)),
        );
        expect(results.filter(Boolean)).toHaveLength(4);
        expect(await store.privateXml.count(ALICE)).toBe(4);
      });
    });

    describe("bans", () => {
      const HOUR = 3_600_000;
      const banOf = (jid: string, patch: Partial<Ban> = {}): Ban => ({ jid, since: Date.now(), ...patch });

      it("is none until set; set keeps every field, and a re-ban replaces the whole ban", async () => {
        expect(await store.bans.get(ALICE)).toBeUndefined();
        const first = banOf(ALICE, { reason: "spam", until: Date.now() + HOUR, by: "switchboard ban" });
        await store.bans.set(first);
        expect(await store.bans.get(ALICE)).toEqual(first);
        expect(await store.bans.get(BOB)).toBeUndefined();

        const second = banOf(ALICE, { since: first.since + 1 });
        await store.bans.set(second);
        const replaced = await store.bans.get(ALICE);
        expect(replaced).toEqual(second);
        for (const field of ["reason", "until", "by"]) expect(replaced).not.toHaveProperty(field);
        // Later than the first ban's end: the re-ban is until unbanned, so still in force.
        expect(await store.bans.get(ALICE, first.until! + HOUR)).toEqual(second);
      });

      it("fields passed as undefined read back as absent", async () => {
        await store.bans.set({ jid: ALICE, since: 7, reason: undefined, until: undefined, by: undefined });
        const ban = await store.bans.get(ALICE);
        expect(ban).toEqual({ jid: ALICE, since: 7 });
        expect(Object.keys(ban!).sort()).toEqual(["jid", "since"]);
      });

      it("a ban whose until has passed reads as none: not got, not listed, not deletable", async () => {
        const ended = { since: Date.now() - 2 * HOUR, until: Date.now() - HOUR };
        await store.bans.set(banOf(ALICE, ended));
        await store.bans.set(banOf(CAROL, ended));
        await store.bans.set(banOf(BOB));
        // Carol's first: no read has had the chance to forget her ended ban.
        expect(await store.bans.delete(CAROL)).toBe(false);
        expect(await store.bans.get(ALICE)).toBeUndefined();
        expect((await store.bans.list()).map((ban) => ban.jid)).toEqual([BOB]);
        expect(await store.bans.delete(ALICE)).toBe(false);
      });

      it("ends exactly at until, and asking about a later moment does not lift it today", async () => {
        const until = Date.now() + HOUR;
        await store.bans.set(banOf(ALICE, { until }));
        expect(await store.bans.get(ALICE, until - 1)).toMatchObject({ jid: ALICE, until });
        expect(await store.bans.get(ALICE, until)).toBeUndefined();
        expect(await store.bans.list(until)).toEqual([]);
        expect((await store.bans.list(until - 1)).map((ban) => ban.jid)).toEqual([ALICE]);
        // The reads about `until` must not have deleted the ban that is in force now.
        expect(await store.bans.get(ALICE)).toMatchObject({ jid: ALICE, until });
        expect((await store.bans.list()).map((ban) => ban.jid)).toEqual([ALICE]);
      });

      it("delete lifts a ban once and reports false when there was none", async () => {
        await store.bans.set(banOf(ALICE, { until: Date.now() + HOUR }));
        await store.bans.set(banOf(BOB));
        expect(await store.bans.delete(ALICE)).toBe(true);
        expect(await store.bans.get(ALICE)).toBeUndefined();
        expect(await store.bans.delete(ALICE)).toBe(false);
        expect(await store.bans.delete(CAROL)).toBe(false);
        expect(await store.bans.get(BOB)).toEqual(expect.objectContaining({ jid: BOB }));
        expect((await store.bans.list()).map((ban) => ban.jid)).toEqual([BOB]);
        // A lifted ban can be made again.
        await store.bans.set(banOf(ALICE, { reason: "again" }));
        expect(await store.bans.get(ALICE)).toMatchObject({ reason: "again" });
      });

      it("lists every ban in force, whole, in JID order, and nothing else", async () => {
        const now = Date.now();
        const inForce = [
          banOf(CAROL, { until: now + HOUR, reason: "flood" }),
          banOf(ALICE),
          banOf("zed@a.example", { by: "ops" }),
        ];
        for (const ban of inForce) await store.bans.set(ban);
        await store.bans.set(banOf(BOB, { until: now - 1 }));
        await store.bans.set(banOf("dave@example.com"));
        await store.bans.delete("dave@example.com");
        expect(await store.bans.list()).toEqual([...inForce].sort((a, b) => (a.jid < b.jid ? -1 : 1)));
        expect(await store.bans.list(now + 2 * HOUR)).toEqual([inForce[1], inForce[2]]);
      });

      it("deleting the account deletes its ban, and nobody else's", async () => {
        for (const bare of [ALICE, BOB]) {
          await store.accounts.create(bare, fakeCredentials(bare));
          await store.bans.set(banOf(bare, { until: Date.now() + HOUR }));
        }
        expect(await store.accounts.delete(ALICE)).toBe(true);
        expect(await store.bans.get(ALICE)).toBeUndefined();
        expect((await store.bans.list()).map((ban) => ban.jid)).toEqual([BOB]);
        // A re-created account starts unbanned.
        await store.accounts.create(ALICE, fakeCredentials("a"));
        expect(await store.bans.get(ALICE)).toBeUndefined();
      });

      it("keeps JIDs and reasons with odd characters apart and intact", async () => {
        const odd = ["we{ir}d@example.com", "{x}@example.com", "o'brien@example.com", "ünï🙂@例え.jp", "%_*?[]\\@example.com", "a b@example.com"];
        for (const [i, jid] of odd.entries()) {
          await store.bans.set(banOf(jid, { since: i, reason: `<b>"${jid}" & 'ünïcødé' 🙂</b>` }));
        }
        for (const [i, jid] of odd.entries()) {
          expect(await store.bans.get(jid)).toEqual({ jid, since: i, reason: `<b>"${jid}" & 'ünïcødé' 🙂</b>` });
        }
        expect((await store.bans.list()).map((ban) => ban.jid)).toEqual([...odd].sort());
        expect(await store.bans.delete("{x}@example.com")).toBe(true);
        expect(await store.bans.get("we{ir}d@example.com")).toBeDefined();
        expect((await store.bans.list()).map((ban) => ban.jid)).toEqual(odd.filter((jid) => jid !== "{x}@example.com").sort());
      });

      it("returns copies", async () => {
        const ban = banOf(ALICE, { reason: "spam" });
        await store.bans.set(ban);
        ban.reason = "changed after set";
        const fetched = (await store.bans.get(ALICE))!;
        fetched.reason = "tampered";
        (await store.bans.list())[0]!.reason = "tampered";
        expect((await store.bans.get(ALICE))?.reason).toBe("spam");
      });
    });

    describe("blocklist", () => {
      const sorted = (jids: string[]) => [...jids].sort();

      it("add returns only the JIDs actually added, skipping duplicates", async () => {
        expect(sorted(await store.blocklist.add(ALICE, ["a@x", "x", "b@x/res"]))).toEqual(["a@x", "b@x/res", "x"]);
        expect(await store.blocklist.add(ALICE, ["a@x", "c@x", "c@x"])).toEqual(["c@x"]);
        expect(sorted(await store.blocklist.list(ALICE))).toEqual(["a@x", "b@x/res", "c@x", "x"]);
        expect(await store.blocklist.list(BOB)).toEqual([]);
      });

      it("remove returns only the JIDs actually removed", async () => {
        await store.blocklist.add(ALICE, ["a@x", "b@x", "c@x"]);
        expect(await store.blocklist.remove(ALICE, ["b@x", "missing@x", "b@x"])).toEqual(["b@x"]);
        expect(sorted(await store.blocklist.list(ALICE))).toEqual(["a@x", "c@x"]);
      });

      it("remove with an empty list clears everything and returns what was blocked", async () => {
        await store.blocklist.add(ALICE, ["a@x", "b@x"]);
        await store.blocklist.add(BOB, ["a@x"]);
        expect(sorted(await store.blocklist.remove(ALICE, []))).toEqual(["a@x", "b@x"]);
        expect(await store.blocklist.list(ALICE)).toEqual([]);
        expect(await store.blocklist.remove(ALICE, [])).toEqual([]);
        expect(await store.blocklist.list(BOB)).toEqual(["a@x"]);
      });

      it("returns copies of the list", async () => {
        await store.blocklist.add(ALICE, ["a@x"]);
        (await store.blocklist.list(ALICE)).push("injected@x");
        expect(await store.blocklist.list(ALICE)).toEqual(["a@x"]);
      });
    });
    describe("push registrations", () => {
      const form = "<x xmlns='jabber:x:data' type='submit'><field var='secret'><value>ü&amp;</value></field></x>";
      it("lists nothing until put, then by JID and node; a put of the same JID and node replaces", async () => {
        expect(await store.push.list(ALICE)).toEqual([]);
        expect(await store.push.put(ALICE, { jid: "b.example", node: "n1" }, 10)).toBe(true);
        expect(await store.push.put(ALICE, { jid: "a.example", node: "n2", form }, 10)).toBe(true);
        expect(await store.push.put(ALICE, { jid: "a.example", node: "n1" }, 10)).toBe(true);
        expect(await store.push.put(ALICE, { jid: "b.example", node: "n1", form }, 10)).toBe(true);
        expect(await store.push.list(ALICE)).toEqual([
          { jid: "a.example", node: "n1" },
          { jid: "a.example", node: "n2", form },
          { jid: "b.example", node: "n1", form },
        ]);
        expect(await store.push.list(BOB)).toEqual([]);
      });

      it("removes one node, or every node of a JID, and says how many went", async () => {
        for (const node of ["n1", "n2", "n3"]) await store.push.put(ALICE, { jid: "a.example", node }, 10);
        await store.push.put(ALICE, { jid: "b.example", node: "n1" }, 10);
        await store.push.put(BOB, { jid: "a.example", node: "n1" }, 10);
        expect(await store.push.remove(ALICE, "a.example", "n2")).toBe(1);
        expect(await store.push.remove(ALICE, "a.example", "n2")).toBe(0);
        expect(await store.push.remove(ALICE, "a.example")).toBe(2);
        expect(await store.push.list(ALICE)).toEqual([{ jid: "b.example", node: "n1" }]);
        expect(await store.push.list(BOB)).toEqual([{ jid: "a.example", node: "n1" }]);
      });

      it("refuses a new registration past the cap, still replaces a held one, and concurrent puts never pass it", async () => {
        await store.push.put(ALICE, { jid: "a.example", node: "n1" }, 2);
        await store.push.put(ALICE, { jid: "a.example", node: "n2" }, 2);
        expect(await store.push.put(ALICE, { jid: "a.example", node: "n3" }, 2)).toBe(false);
        expect(await store.push.put(ALICE, { jid: "a.example", node: "n2", form }, 2)).toBe(true);
        expect((await store.push.list(ALICE)).map((r) => r.node)).toEqual(["n1", "n2"]);
        const results = await Promise.all(Array.from({ length: 10 }, (_, i) => store.push.put(BOB, { jid: "a.example", node: `c${i}` }, 3)));
        expect(results.filter(Boolean)).toHaveLength(3);
        expect(await store.push.list(BOB)).toHaveLength(3);
      });
    });

    fastTokenContract(() => store);

    pepContract(() => store);
  });
}
