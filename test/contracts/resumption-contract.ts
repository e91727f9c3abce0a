/**
 * ResumptionStore contract: the embedded (memory) and cluster (Redis) stores behave alike, so
 * stream management resumes the same way in both modes.
 */
import { afterEach, describe, expect, it } from "vitest";
import { parseJid } from "@switchboard/xml";
import { newResumptionId, type ResumptionRecord, type ResumptionStore } from "../../packages/core/src/index.js";

const A = { nodeId: "edge-a", sessionId: "s1" };
const B = { nodeId: "edge-b", sessionId: "s2" };
const at = 1_700_000_000_000;

function record(id: string, extra: Partial<ResumptionRecord> = {}): ResumptionRecord {
  return { id, jid: "alice@example.com/phone", owner: A, sessionId: "s1", inbound: 0, outbound: 0, state: {}, queue: [], ...extra };
}
const entry = (seq: number) => ({ seq, xml: `<message id='m${seq}'/>`, at: at + seq });

export function resumptionContract(name: string, open: () => Promise<ResumptionStore> | ResumptionStore, cleanup?: () => Promise<void>): void {
  describe(`ResumptionStore contract: ${name}`, () => {
    afterEach(async () => cleanup?.());
    const id = () => newResumptionId(parseJid("alice@example.com/phone"));

    it("appends and acknowledges for the owner only, and hands everything to a resumption", async () => {
      const store = await open();
      const rid = id();
      await store.create(record(rid));
      expect(await store.append(rid, A, { entries: [entry(1), entry(2), entry(3)], outbound: 0, inbound: 4 })).toBe(true);
      expect(await store.append(rid, B, { entries: [entry(9)], outbound: 0, inbound: 0 })).toBe(false);
      expect(await store.ack(rid, A, 1, 5)).toBe(true);
      const claimed = await store.claim(rid, B, "resume");
      expect(claimed).toMatchObject({ id: rid, jid: "alice@example.com/phone", owner: A, sessionId: "s1", inbound: 5, outbound: 3 });
      expect(claimed!.queue.map((q) => q.seq)).toEqual([2, 3]);
      expect(claimed!.queue[0]).toEqual(entry(2));
      // the old owner can no longer write; the new one can
      expect(await store.append(rid, A, { entries: [entry(4)], outbound: 0, inbound: 5 })).toBe(false);
      expect(await store.append(rid, B, { entries: [entry(4)], outbound: 0, inbound: 5 })).toBe(true);
    });

    it("appends, raises the inbound count and forgets what was acknowledged in one call", async () => {
      const store = await open();
      const rid = id();
      await store.create(record(rid));
      expect(await store.append(rid, A, { entries: [entry(1), entry(2)], outbound: 0, inbound: 1 })).toBe(true);
      expect(await store.append(rid, A, { entries: [entry(3), entry(4)], outbound: 0, inbound: 7, ackedUpTo: 2 })).toBe(true);
      expect(await store.append(rid, A, { entries: [], outbound: 0, inbound: 9, ackedUpTo: 3 })).toBe(true); // nothing new: the ack and the count
      expect(await store.append(rid, B, { entries: [], outbound: 0, inbound: 99, ackedUpTo: 4 })).toBe(false);
      const claimed = await store.claim(rid, B, "resume");
      expect(claimed!.queue.map((q) => q.seq)).toEqual([4]);
      expect({ inbound: claimed!.inbound, outbound: claimed!.outbound }).toEqual({ inbound: 9, outbound: 4 });
    });

    it("raises the outbound count past stanzas it never stored, and remembers the bus ids of those acknowledged", async () => {
      const store = await open();
      const rid = id();
      await store.create(record(rid));
      // 1–3 were written and acknowledged before a sync: only their count and bus ids arrive
      expect(await store.append(rid, A, { entries: [], seen: ["L.b.1", "L.b.3"], outbound: 3, inbound: 2 })).toBe(true);
      expect(await store.append(rid, A, { entries: [entry(5)], outbound: 6, inbound: 1 })).toBe(true);
      expect(await store.append(rid, A, { entries: [], outbound: 4, inbound: 2 })).toBe(true); // counts only rise
      expect(await store.append(rid, B, { entries: [], outbound: 99, inbound: 99 })).toBe(false);
      const claimed = await store.claim(rid, B, "resume");
      expect({ inbound: claimed!.inbound, outbound: claimed!.outbound }).toEqual({ inbound: 2, outbound: 6 });
      expect(claimed!.queue.map((q) => q.seq)).toEqual([5]);
      expect([...(claimed!.seen ?? [])].sort()).toEqual(["L.b.1", "L.b.3"]);
    });

    it("keeps a detached session until its deadline, queueing for it up to a bound", async () => {
      const store = await open();
      const rid = id();
      await store.create(record(rid));
      await store.append(rid, A, { entries: [entry(1)], outbound: 0, inbound: 0 });
      expect(await store.enqueue(rid, "<message id='x'/>", at, 10)).toBe("gone"); // attached: delivered, not queued
      expect(await store.detach(rid, A, { until: at + 60_000, inbound: 2, outbound: 3, state: { presence: { available: true } }, unsaved: [entry(2), entry(3)], acked: 1 })).toBe(true);
      expect(await store.enqueue(rid, "<message id='late'/>", at + 5, 3)).toBe("queued");
      expect(await store.enqueue(rid, "<message id='late2'/>", at + 6, 3)).toBe("full");
      expect(await store.expired(at + 59_999, 10)).toEqual([]);
      expect(await store.expired(at + 60_000, 10)).toEqual([rid]);
      const claimed = await store.claim(rid, B, "resume");
      expect(claimed!.detachedUntil).toBe(at + 60_000);
      expect(claimed!.saved).toBe(true); // its owner detached it: nothing it wrote is missing
      expect(claimed!.state).toEqual({ presence: { available: true } });
      // 1 was acknowledged before the stream went (its ack had not reached the store yet)
      expect(claimed!.queue.map((q) => q.seq)).toEqual([2, 3, 4]);
      expect(claimed!.queue[2]!.xml).toBe("<message id='late'/>");
      expect(await store.expired(at + 60_000, 10)).toEqual([]);
    });

    it("lets one of a resumption and an expiry win, and a dead node's session be orphaned", async () => {
      const store = await open();
      const rid = id();
      await store.create(record(rid));
      expect(await store.claim(rid, B, "expire", at)).toBeUndefined(); // attached: nothing to expire
      expect(await store.orphan(rid, "edge-x", at + 10)).toBe(false); // not that node's
      expect(await store.orphan(rid, "edge-a", at + 10)).toBe(true);
      // a crash: the store may lag what the dead stream wrote
      const taken = await store.claim(rid, B, "resume");
      expect(taken!.saved).toBe(false);
      expect(await store.detach(rid, B, { until: at + 10, inbound: 0, outbound: 0, state: {}, unsaved: [] })).toBe(true);
      const expiry = { nodeId: "edge-b", sessionId: "expiry:edge-b" };
      expect(await store.claim(rid, expiry, "expire", at + 9)).toBeUndefined(); // not yet
      expect(await store.claim(rid, expiry, "expire", at + 10)).toBeDefined();
      expect(await store.claim(rid, B, "resume")).toBeUndefined(); // the expiry holds it
      await store.delete(rid);
      expect(await store.claim(rid, B, "resume")).toBeUndefined();
      expect(await store.claim("not-an-id", B, "resume")).toBeUndefined();
    });

    it("drops a stanza routed again when the session had it already (same bus id), even acknowledged", async () => {
      const store = await open();
      const rid = id();
      await store.create(record(rid));
      await store.append(rid, A, { entries: [{ ...entry(1), bid: "L.b.1" }, { ...entry(2), bid: "L.b.2" }], outbound: 0, inbound: 0 });
      await store.ack(rid, A, 2, 0); // both acknowledged: out of the queue, still remembered
      await store.detach(rid, A, { until: Date.now() + 60_000, inbound: 0, outbound: 2, state: {}, unsaved: [{ ...entry(3), bid: "L.b.3" }] });
      expect(await store.enqueue(rid, "<message id='m1'/>", Date.now(), 10, "L.b.1")).toBe("duplicate");
      expect(await store.enqueue(rid, "<message id='m3'/>", Date.now(), 10, "L.b.3")).toBe("duplicate");
      expect(await store.enqueue(rid, "<message id='m4'/>", Date.now(), 10, "L.b.4")).toBe("queued");
      expect(await store.enqueue(rid, "<message id='m4'/>", Date.now(), 10, "L.b.4")).toBe("duplicate");
      expect(await store.enqueue(rid, "<message id='plain'/>", Date.now(), 10)).toBe("queued");
      const claimed = await store.claim(rid, B, "resume");
      expect(claimed!.queue.map((q) => q.seq)).toEqual([3, 4, 5]);
      expect(claimed!.queue[1]!.bid).toBe("L.b.4");
      expect(claimed!.queue[2]!.bid).toBeUndefined();
      expect([...(claimed!.seen ?? [])].sort()).toEqual(["L.b.1", "L.b.2", "L.b.3", "L.b.4"]);
    });

    it("remembers the inbound count of a session that ended, for a while, when asked to", async () => {
      const store = await open();
      const kept = id();
      const forgotten = id();
      for (const rid of [kept, forgotten]) await store.create(record(rid));
      await store.delete(kept, { inbound: 42, ms: 150 });
      await store.delete(forgotten);
      expect(await store.ended(kept)).toBe(42);
      expect(await store.ended(forgotten)).toBeUndefined();
      expect(await store.ended("not-an-id")).toBeUndefined();
      expect(await store.claim(kept, B, "resume")).toBeUndefined();
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(await store.ended(kept)).toBeUndefined();
    });
  });
}
