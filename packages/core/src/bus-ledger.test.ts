import { describe, expect, it } from "vitest";
import { parseFrame } from "@switchboard/xml";
import { BusLedger, MAX_PER_NODE, PIN_MAX_MS, RETAIN_MS, busIdOf, busStampOf, tagBusId } from "./bus-ledger.js";
import type { StanzaEnvelope } from "./ports.js";

const env = (n: number): StanzaEnvelope => ({ kind: "stanza", to: "bob@x/1", sessionId: "s1", xml: `<message id='m${n}'/>` });

function ledger(now = { t: 1_000 }) {
  return { l: new BusLedger("edge-a", () => now.t), now };
}

describe("BusLedger, sender side", () => {
  it("numbers stanzas per destination and forgets what a receipt confirms", () => {
    const { l } = ledger();
    const a1 = l.record("edge-b", env(1));
    const a2 = l.record("edge-b", env(2));
    const c1 = l.record("edge-c", env(3));
    expect([a1.seq, a2.seq, c1.seq]).toEqual([1, 2, 1]);
    expect(a1.env.stamp).toEqual({ origin: "edge-a", life: l.life, seq: 1, id: `${l.life}.edge-b.1` });
    l.confirmed("edge-b", l.life, 1);
    expect(l.pending()).toEqual(new Map([["edge-b", 1], ["edge-c", 1]]));
    l.confirmed("edge-b", "another-life", 2); // a receipt for a previous life of this node id
    expect(l.pending().get("edge-b")).toBe(1);
    expect(l.takeUnconfirmed("edge-b").map((e) => e.seq)).toEqual([2]);
    expect(l.takeUnconfirmed("edge-b")).toEqual([]);
    // numbering goes on after a node was taken for gone
    expect(l.record("edge-b", env(4)).seq).toBe(3);
  });

  it("keeps the first identity of a stanza routed again, and skips failed publishes", () => {
    const { l } = ledger();
    const again = l.record("edge-c", env(1), "first.edge-b.7");
    expect(again.env.stamp!.id).toBe("first.edge-b.7");
    const failed = l.record("edge-c", env(2));
    failed.failed = true;
    expect(l.takeUnconfirmed("edge-c").map((e) => e.env.stamp!.id)).toEqual(["first.edge-b.7"]);
  });

  it("after RETAIN_MS, routes again what a dead node never confirmed and lets go of a live one's", () => {
    const { l, now } = ledger();
    l.record("dead", env(1));
    l.record("alive", env(2));
    now.t += RETAIN_MS - 1;
    expect(l.expire(() => false)).toEqual([]);
    now.t += 1;
    const out = l.expire((node) => node === "alive");
    expect(out.map((e) => e.env.xml)).toEqual(["<message id='m1'/>"]);
    expect(l.pending().get("dead") ?? 0).toBe(0);
    expect(l.pending().get("alive") ?? 0).toBe(0);
  });

  it("never numbers a destination from 1 again, even after its outbox emptied and expired", () => {
    // A resumed stream-management session remembers the ids it had (busIdOf): an id given
    // twice would make it drop a new stanza as a copy.
    const { l, now } = ledger();
    const first = l.record("b", env(1));
    l.takeUnconfirmed("b"); // b went (and may come back under the same id)
    now.t += RETAIN_MS;
    l.expire(() => true);
    const next = l.record("b", env(2));
    expect(next.seq).toBe(2);
    expect(next.env.stamp!.id).not.toBe(first.env.stamp!.id);
  });

  it("releases what it held for a node presumed dead once that node is alive", () => {
    const { l } = ledger();
    l.record("b", env(1), undefined, true);
    l.record("b", env(2));
    expect(l.release(() => false)).toEqual([]);
    const released = l.release(() => true);
    expect(released.map(([node, e]) => [node, e.seq])).toEqual([["b", 1]]);
    expect(released[0]![1].held).toBe(false);
    expect(l.release(() => true)).toEqual([]);
    expect(l.pending().get("b")).toBe(2); // still unconfirmed until a receipt
  });

  it("holds at most MAX_PER_NODE per destination, warning once", () => {
    const { l } = ledger();
    for (let i = 0; i < MAX_PER_NODE + 3; i++) l.record("b", env(i));
    expect(l.pending().get("b")).toBe(MAX_PER_NODE);
    expect(l.takeOverflowWarning()).toBe(true);
    expect(l.takeOverflowWarning()).toBe(false);
  });
});

describe("BusLedger, receiver side", () => {
  it("reports what was handled one tick earlier, per sender and life", () => {
    const { l } = ledger();
    l.handled({ origin: "b", life: "L1", seq: 3, id: "x" });
    expect(l.due()).toEqual([]); // first tick: nothing is old enough
    l.handled({ origin: "b", life: "L1", seq: 5, id: "y" });
    expect(l.due()).toEqual([{ origin: "b", life: "L1", upTo: 3 }]);
    expect(l.due()).toEqual([{ origin: "b", life: "L1", upTo: 5 }]);
    expect(l.due()).toEqual([]);
    // the sender restarted: its numbers start again
    l.handled({ origin: "b", life: "L2", seq: 1, id: "z" });
    expect(l.final()).toEqual([{ origin: "b", life: "L2", upTo: 1 }]);
  });

  it("tags elements with their bus identity, and the hop's numbering when given", () => {
    const el = parseFrame("<message/>");
    expect(busIdOf(el)).toBeUndefined();
    tagBusId(el, "L.b.1");
    expect(busIdOf(el)).toBe("L.b.1");
    expect(busStampOf(el)).toBeUndefined();
    const stamp = { origin: "b", life: "L1", seq: 4, id: "L.b.1" };
    tagBusId(el, stamp);
    expect(busStampOf(el)).toBe(stamp);
  });

  it("holds receipts back below a pinned stanza until it is unpinned, in due() and final()", () => {
    const { l } = ledger();
    const s = (seq: number) => ({ origin: "b", life: "L1", seq, id: `i${seq}` });
    l.handled(s(1));
    expect(l.pin(s(2))).toBe(true);
    l.handled(s(2));
    l.handled(s(3));
    l.due();
    expect(l.due()).toEqual([{ origin: "b", life: "L1", upTo: 1 }]);
    expect(l.final()).toEqual([{ origin: "b", life: "L1", upTo: 1 }]);
    expect(l.pinnedCount()).toBe(1);
    l.unpin(s(2));
    expect(l.due()).toEqual([{ origin: "b", life: "L1", upTo: 3 }]);
    expect(l.pinnedCount()).toBe(0);
    // a receipt covers 3 already: too late to pin it
    expect(l.pin(s(3))).toBe(false);
    // a pin for another life of the sender does not touch this one's
    l.unpin({ origin: "b", life: "L0", seq: 9, id: "z" });
    expect(l.pin(s(4))).toBe(true);
    l.unpin({ ...s(4), life: "L0" });
    expect(l.pinnedCount()).toBe(1);
  });

  it("drops a pin older than PIN_MAX_MS, so a forgotten one cannot stop receipts", () => {
    const { l, now } = ledger();
    const s = (seq: number) => ({ origin: "b", life: "L1", seq, id: `i${seq}` });
    l.pin(s(1));
    l.handled(s(1));
    l.handled(s(2));
    l.due();
    expect(l.due()).toEqual([]);
    now.t += PIN_MAX_MS;
    expect(l.due()).toEqual([{ origin: "b", life: "L1", upTo: 2 }]);
    expect(l.pinnedCount()).toBe(0);
  });
});
