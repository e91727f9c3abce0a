/**
 * SessionRegistry contract: the behaviour every implementation must share, so the embedded node
 * and a cluster route identically (ARCHITECTURE.md "Behaviour is identical in both modes"). Run
 * against MemorySessionRegistry and RedisSessionRegistry; a case both pass pins the semantics.
 */
import { SessionLimitError, type SessionInfo, type SessionRegistry } from "@switchboard/core";
import { describe, expect, it } from "vitest";

export function sessionInfo(jid: string, sessionId: string, nodeId = "node-1", extra: Partial<SessionInfo> = {}): SessionInfo {
  return { jid, sessionId, nodeId, priority: 0, available: false, interested: false, since: 1_700_000_000_123, ...extra };
}

const byJid = (a: SessionInfo, b: SessionInfo) => (a.jid < b.jid ? -1 : a.jid > b.jid ? 1 : 0);

export function registryContract(name: string, makeRegistry: () => SessionRegistry | Promise<SessionRegistry>): void {
  describe(`SessionRegistry contract: ${name}`, () => {
    it("bind of a new resource returns undefined and get returns the entry", async () => {
      const registry = await makeRegistry();
      const info = sessionInfo("alice@example.com/phone", "s1");
      expect(await registry.bind(info)).toBeUndefined();
      expect(await registry.get("alice@example.com/phone")).toEqual(info);
      expect(await registry.get("alice@example.com/laptop")).toBeUndefined();
    });

    it("bind of a bound resource replaces it and returns the previous entry (RFC 6120 §7.7.2.2)", async () => {
      const registry = await makeRegistry();
      const first = sessionInfo("alice@example.com/phone", "s1", "node-1", { available: true, priority: 5 });
      const second = sessionInfo("alice@example.com/phone", "s2", "node-2");
      await registry.bind(first);
      expect(await registry.bind(second)).toEqual(first);
      expect(await registry.get("alice@example.com/phone")).toEqual(second);
      expect(await registry.count("alice@example.com")).toBe(1);
    });

    it("returns copies: mutating a result does not change the registry", async () => {
      const registry = await makeRegistry();
      const info = sessionInfo("alice@example.com/phone", "s1");
      await registry.bind(info);
      info.priority = 99; // the caller's object is not kept either
      const got = (await registry.get("alice@example.com/phone"))!;
      got.available = true;
      (await registry.list("alice@example.com"))[0]!.priority = 7;
      (await registry.listNode("node-1"))[0]!.interested = true;
      expect(await registry.get("alice@example.com/phone")).toEqual(sessionInfo("alice@example.com/phone", "s1"));
    });

    it("unbind removes the entry only when the sessionId still matches", async () => {
      const registry = await makeRegistry();
      await registry.bind(sessionInfo("alice@example.com/phone", "s1"));
      await registry.unbind("alice@example.com/phone", "other");
      expect(await registry.get("alice@example.com/phone")).toBeDefined();
      await registry.unbind("alice@example.com/phone", "s1");
      expect(await registry.get("alice@example.com/phone")).toBeUndefined();
      expect(await registry.count("alice@example.com")).toBe(0);
      expect(await registry.listNode("node-1")).toEqual([]);
      await expect(registry.unbind("nobody@example.com/x", "s9")).resolves.toBeUndefined();
    });

    it("a late unbind of a replaced session leaves the newer session bound", async () => {
      const registry = await makeRegistry();
      await registry.bind(sessionInfo("alice@example.com/phone", "old"));
      await registry.bind(sessionInfo("alice@example.com/phone", "new"));
      await registry.unbind("alice@example.com/phone", "old");
      expect((await registry.get("alice@example.com/phone"))?.sessionId).toBe("new");
      expect((await registry.listNode("node-1")).map((e) => e.sessionId)).toEqual(["new"]);
    });

    it("update merges the patch only when the sessionId matches", async () => {
      const registry = await makeRegistry();
      const info = sessionInfo("alice@example.com/phone", "s1", "node-1", { priority: -1 });
      await registry.bind(info);
      await registry.update("alice@example.com/phone", "wrong", { available: true });
      expect(await registry.get("alice@example.com/phone")).toEqual(info);
      await registry.update("alice@example.com/phone", "s1", { available: true, priority: 10, presence: "<presence/>" });
      expect(await registry.get("alice@example.com/phone")).toEqual({ ...info, available: true, priority: 10, presence: "<presence/>" });
      await registry.update("nobody@example.com/x", "s1", { available: true });
      expect(await registry.get("nobody@example.com/x")).toBeUndefined();
    });

    it("move hands a resource to another stream and node, keeping its state, only from its current session", async () => {
      const registry = await makeRegistry();
      const info = sessionInfo("alice@example.com/phone", "s1", "node-1", { available: true, priority: 3, presence: "<presence/>", ext: { carbons: true } });
      await registry.bind(info);
      expect(await registry.move("alice@example.com/phone", "other", { nodeId: "node-2", sessionId: "s2" })).toBeUndefined();
      expect(await registry.move("nobody@example.com/x", "s1", { nodeId: "node-2", sessionId: "s2" })).toBeUndefined();
      expect(await registry.listNode("node-2")).toEqual([]);
      const moved = await registry.move("alice@example.com/phone", "s1", { nodeId: "node-2", sessionId: "s2" });
      expect(moved).toEqual({ ...info, nodeId: "node-2", sessionId: "s2" });
      expect(await registry.get("alice@example.com/phone")).toEqual(moved);
      expect(await registry.listNode("node-1")).toEqual([]);
      expect(await registry.listNode("node-2")).toEqual([moved]);
      // the old stream's late unbind no longer removes it; the new one's does
      await registry.unbind("alice@example.com/phone", "s1");
      expect(await registry.get("alice@example.com/phone")).toBeDefined();
      await registry.unbind("alice@example.com/phone", "s2");
      expect(await registry.get("alice@example.com/phone")).toBeUndefined();
      expect(await registry.listNode("node-2")).toEqual([]);
    });

    it("update replaces ext wholesale and clears fields patched to undefined", async () => {
      const registry = await makeRegistry();
      await registry.bind(sessionInfo("alice@example.com/phone", "s1", "node-1", { presence: "<presence/>", ext: { carbons: true, n: 3 } }));
      await registry.update("alice@example.com/phone", "s1", { ext: { csi: "inactive" } });
      expect((await registry.get("alice@example.com/phone"))?.ext).toEqual({ csi: "inactive" });
      await registry.update("alice@example.com/phone", "s1", { available: false, presence: undefined });
      const got = await registry.get("alice@example.com/phone");
      expect(got?.presence).toBeUndefined();
      expect(got?.ext).toEqual({ csi: "inactive" });
      expect(got?.since).toBe(1_700_000_000_123);
    });

    it("list and count cover exactly the resources of one bare JID", async () => {
      const registry = await makeRegistry();
      const phone = sessionInfo("alice@example.com/phone", "s1");
      const laptop = sessionInfo("alice@example.com/laptop", "s2", "node-2");
      await registry.bind(phone);
      await registry.bind(laptop);
      await registry.bind(sessionInfo("alice@example.org/phone", "s3"));
      await registry.bind(sessionInfo("alice2@example.com/phone", "s4"));
      expect((await registry.list("alice@example.com")).sort(byJid)).toEqual([laptop, phone]);
      expect(await registry.count("alice@example.com")).toBe(2);
      expect(await registry.list("bob@example.com")).toEqual([]);
      expect(await registry.count("bob@example.com")).toBe(0);
    });

    it("listNode returns the sessions of one node and follows a rebind to another node", async () => {
      const registry = await makeRegistry();
      const a = sessionInfo("alice@example.com/phone", "s1", "node-1");
      const b = sessionInfo("bob@example.com/desk", "s2", "node-1");
      const c = sessionInfo("carol@example.com/tab", "s3", "node-2");
      for (const info of [a, b, c]) await registry.bind(info);
      expect((await registry.listNode("node-1")).sort(byJid)).toEqual([a, b]);
      const moved = sessionInfo("alice@example.com/phone", "s4", "node-2");
      await registry.bind(moved);
      expect(await registry.listNode("node-1")).toEqual([b]);
      expect((await registry.listNode("node-2")).sort(byJid)).toEqual([moved, c]);
      expect(await registry.listNode("node-9")).toEqual([]);
    });

    it("refuses a bind past maxSessions, counting detached sessions, but lets a held resource be taken over", async () => {
      const registry = await makeRegistry();
      await registry.bind(sessionInfo("alice@example.com/phone", "s1"), { maxSessions: 2 });
      await registry.bind(sessionInfo("alice@example.com/laptop", "s2", "node-2", { detachedUntil: 1_800_000_000_000 }), { maxSessions: 2 });
      const refused = await registry.bind(sessionInfo("alice@example.com/tablet", "s3"), { maxSessions: 2 }).catch((err: unknown) => err);
      expect(refused).toBeInstanceOf(SessionLimitError);
      expect(refused).toMatchObject({ name: "SessionLimitError", held: 2, max: 2 });
      expect(await registry.get("alice@example.com/tablet")).toBeUndefined();
      expect(await registry.listNode("node-1")).toEqual([sessionInfo("alice@example.com/phone", "s1")]);
      // the same resource again replaces the held one (RFC 6120 §7.7.2.2), whatever the count
      expect((await registry.bind(sessionInfo("alice@example.com/phone", "s4"), { maxSessions: 2 }))?.sessionId).toBe("s1");
      // without a limit, nothing is refused
      await registry.bind(sessionInfo("alice@example.com/tablet", "s5"));
      expect(await registry.count("alice@example.com")).toBe(3);
    });

    it("keeps resources with spaces, braces, slashes and non-ASCII intact", async () => {
      const registry = await makeRegistry();
      const odd = sessionInfo("zoë@example.com/Ré sou{rce}/with/slashes", "s\u00e91", "node-1", { presence: "<presence><status>é\"'</status></presence>" });
      await registry.bind(odd);
      expect(await registry.get(odd.jid)).toEqual(odd);
      expect(await registry.list("zoë@example.com")).toEqual([odd]);
      expect(await registry.listNode("node-1")).toEqual([odd]);
      await registry.update(odd.jid, odd.sessionId, { priority: 3 });
      expect(await registry.get(odd.jid)).toEqual({ ...odd, priority: 3 });
      await registry.unbind(odd.jid, odd.sessionId);
      expect(await registry.count("zoë@example.com")).toBe(0);
    });
  });
}
