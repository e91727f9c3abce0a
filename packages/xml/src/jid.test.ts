import { describe, expect, it } from "vitest";
import { Jid, JidError, jid, parseJid, tryParseJid } from "./jid.js";

describe("parseJid", () => {
  it("splits local, domain and resource", () => {
    const j = parseJid("juliet@example.com/balcony");
    expect([j.local, j.domain, j.resource]).toEqual(["juliet", "example.com", "balcony"]);
    expect(j.bare).toBe("juliet@example.com");
    expect(j.full).toBe("juliet@example.com/balcony");
    expect(String(j)).toBe("juliet@example.com/balcony");
  });

  it("accepts domain-only and domain/resource JIDs", () => {
    expect(parseJid("example.com").full).toBe("example.com");
    const r = parseJid("example.com/some/res@x");
    expect([r.local, r.domain, r.resource]).toEqual(["", "example.com", "some/res@x"]);
  });

  it("splits the resource at the first '/' before looking for '@' (RFC 7622 §3.2)", () => {
    const j = parseJid("a@b.example/c@d/e");
    expect([j.local, j.domain, j.resource]).toEqual(["a", "b.example", "c@d/e"]);
  });

  it("lowercases local and domain, keeps resource case, drops a trailing dot", () => {
    const j = parseJid("Juliet@Example.COM./Balcony");
    expect(j.full).toBe("juliet@example.com/Balcony");
  });

  it("normalises Unicode to NFC and case-folds non-ASCII", () => {
    const decomposed = "Ju\u0308rgen@EXAMPLE.com/Re\u0301s";
    const j = parseJid(decomposed);
    expect(j.local).toBe("j\u00fcrgen");
    expect(j.resource).toBe("R\u00e9s");
    expect(parseJid("ÄRGER@bücher.example").full).toBe("ärger@bücher.example");
  });

  it("accepts IP literals", () => {
    expect(parseJid("u@[::1]").domain).toBe("[::1]");
    expect(parseJid("u@[2001:DB8::ffff:192.0.2.1]").domain).toBe("[2001:db8::ffff:192.0.2.1]");
    expect(parseJid("u@192.0.2.1").domain).toBe("192.0.2.1");
  });

  it.each([
    ["", "empty domainpart"],
    ["@example.com", "empty localpart"],
    ["user@example.com/", "empty resourcepart"],
    ["us er@example.com", "forbidden character"],
    ["us'er@example.com", "forbidden character"],
    ['a"b@example.com', "forbidden character"],
    ["a:b@example.com", "forbidden character"],
    ["a<b@example.com", "forbidden character"],
    ["a&b@example.com", "forbidden character"],
    ["user@exa mple.com", "not a valid hostname"],
    ["user@ex..ample", "not a valid hostname"],
    ["a@b@example.com", "not a valid hostname"],
    ["user@-bad.example", "not a valid hostname"],
    ["user@[::g]", "IPv6"],
    ["user@[1:2:3:4:5:6:7:8:9]", "IPv6"],
    ["user@[::1", "IPv6"],
    ["user@example.com/res\u0007", "control character"],
    [`${"a".repeat(1024)}@example.com`, "exceeds 1023 bytes"],
    [`user@example.com/${"\u00e9".repeat(512)}`, "exceeds 1023 bytes"],
  ])("rejects %j (%s)", (input, message) => {
    expect(() => parseJid(input)).toThrow(JidError);
    expect(() => parseJid(input)).toThrow(message);
  });

  it("accepts parts of exactly 1023 bytes", () => {
    expect(parseJid(`${"a".repeat(1023)}@example.com`).local).toHaveLength(1023);
  });

  it("JidError has its own name", () => {
    try {
      parseJid("@x");
      expect.unreachable();
    } catch (err) {
      expect((err as Error).name).toBe("JidError");
    }
  });
});

describe("tryParseJid", () => {
  it("returns undefined instead of throwing", () => {
    expect(tryParseJid("a@b@c")).toBeUndefined();
    expect(tryParseJid("a@b")?.bare).toBe("a@b");
  });
});

describe("Jid", () => {
  it("jid() validates like parseJid", () => {
    expect(jid("Romeo", "Example.net", "Orchard").full).toBe("romeo@example.net/Orchard");
    expect(() => jid("ro meo", "example.net")).toThrow(JidError);
    expect(() => new Jid("", "")).toThrow(JidError);
  });

  it("toBare, withResource, isBare, equals", () => {
    const full = parseJid("a@b.example/r");
    const bare = full.toBare();
    expect(bare.full).toBe("a@b.example");
    expect(bare.isBare()).toBe(true);
    expect(full.isBare()).toBe(false);
    expect(bare.toBare()).toBe(bare);
    expect(bare.withResource("r").equals(full)).toBe(true);
    expect(full.equals(parseJid("A@B.example/r"))).toBe(true);
    expect(full.equals(parseJid("a@b.example/R"))).toBe(false);
  });
});

describe("bareOf", () => {
  it("strips the resource of a JID string, keeping slashes inside the resource", async () => {
    const { bareOf } = await import("./jid.js");
    expect(bareOf("a@b/c")).toBe("a@b");
    expect(bareOf("a@b/c/d")).toBe("a@b");
    expect(bareOf("a@b")).toBe("a@b");
    expect(bareOf("b/c")).toBe("b");
  });
});
