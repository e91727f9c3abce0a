/**
 * Contract tests for FastTokenStore (XEP-0484 tokens, core/ports.ts), run inside the Store
 * contract by every Store implementation: compare-and-set per (user, user agent), and the tokens
 * gone with a new password or the account.
 */
import { describe, expect, it } from "vitest";
import type { FastTokens, Store } from "../../packages/core/src/ports.js";
import { fakeCredentials } from "./store-contract.js";

const ALICE = "alice@example.com";
const BOB = "bob@example.com";

function tokens(tag: string, count = 0, previous?: string): FastTokens {
  const token = (t: string, c: number) => ({ sealed: `sealed-${t}`, mechanism: "HT-SHA-256-NONE", expiry: 1_900_000_000_000, count: c });
  return previous ? { current: token(tag, count), previous: token(previous, 0) } : { current: token(tag, count) };
}

export function fastTokenContract(store: () => Store): void {
  describe("FAST tokens", () => {
    it("are none until swapped in from none, then read back whole, per user and per agent", async () => {
      const s = store();
      expect(await s.fastTokens.get(ALICE, "agent-1")).toBeUndefined();
      expect(await s.fastTokens.swap(ALICE, "agent-1", undefined, tokens("a", 0, "old"))).toBe(true);
      expect(await s.fastTokens.get(ALICE, "agent-1")).toEqual(tokens("a", 0, "old"));
      expect(await s.fastTokens.get(ALICE, "agent-2")).toBeUndefined();
      expect(await s.fastTokens.get(BOB, "agent-1")).toBeUndefined();
    });

    it("swap is a compare-and-set: a stale expectation writes nothing", async () => {
      const s = store();
      await s.fastTokens.swap(ALICE, "a", undefined, tokens("a"));
      expect(await s.fastTokens.swap(ALICE, "a", undefined, tokens("b"))).toBe(false);
      expect(await s.fastTokens.swap(ALICE, "a", tokens("x"), tokens("b"))).toBe(false);
      expect(await s.fastTokens.get(ALICE, "a")).toEqual(tokens("a"));
      expect(await s.fastTokens.swap(ALICE, "a", tokens("a"), tokens("a", 5))).toBe(true);
      expect(await s.fastTokens.get(ALICE, "a")).toEqual(tokens("a", 5));
    });

    it("concurrent swaps from one state: exactly one passes", async () => {
      const s = store();
      await s.fastTokens.swap(ALICE, "a", undefined, tokens("a"));
      const results = await Promise.all([1, 2, 3, 4].map((n) => s.fastTokens.swap(ALICE, "a", tokens("a"), tokens("a", n))));
      expect(results.filter(Boolean)).toHaveLength(1);
    });

    it("swapping to undefined removes the agent's tokens only", async () => {
      const s = store();
      await s.fastTokens.swap(ALICE, "a", undefined, tokens("a"));
      await s.fastTokens.swap(ALICE, "b", undefined, tokens("b"));
      expect(await s.fastTokens.swap(ALICE, "a", tokens("a"), undefined)).toBe(true);
      expect(await s.fastTokens.get(ALICE, "a")).toBeUndefined();
      expect(await s.fastTokens.get(ALICE, "b")).toEqual(tokens("b"));
    });

    it("a new password and the account's deletion forget every token of that user, nobody else's", async () => {
      const s = store();
      await s.accounts.create(ALICE, fakeCredentials("a"));
      await s.accounts.create(BOB, fakeCredentials("b"));
      await s.fastTokens.swap(ALICE, "a", undefined, tokens("a"));
      await s.fastTokens.swap(ALICE, "b", undefined, tokens("b"));
      await s.fastTokens.swap(BOB, "a", undefined, tokens("bob"));
      await s.accounts.setCredentials(ALICE, fakeCredentials("new"));
      expect(await s.fastTokens.get(ALICE, "a")).toBeUndefined();
      expect(await s.fastTokens.get(ALICE, "b")).toBeUndefined();
      expect(await s.fastTokens.get(BOB, "a")).toEqual(tokens("bob"));
      await s.fastTokens.swap(ALICE, "a", undefined, tokens("again"));
      await s.accounts.delete(ALICE);
      expect(await s.fastTokens.get(ALICE, "a")).toBeUndefined();
      expect(await s.fastTokens.get(BOB, "a")).toEqual(tokens("bob"));
    });
  });
}
