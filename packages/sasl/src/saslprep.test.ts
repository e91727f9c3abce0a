import { describe, expect, it } from "vitest";
import { SaslPrepError, saslPrep } from "./saslprep.js";

describe("saslPrep", () => {
  // Examples from RFC 4013 §3 where our pragmatic profile applies.
  it.each([
    ["I\u00ADX", "IX"],
    ["user", "user"],
    ["USER", "USER"],
    ["\u00AA", "a"],
    ["\u2168", "IX"],
  ])("maps %j to %j", (input, output) => {
    expect(saslPrep(input)).toBe(output);
  });

  it("maps non-ASCII spaces to SPACE and strips zero-width characters", () => {
    expect(saslPrep("a\u00A0b\u3000c\u200Bd\uFEFFe")).toBe("a b cde");
  });

  it.each([
    ["\u0007", 0x07],
    ["a\u0000b", 0x00],
    ["\u0085", 0x85],
    ["\uE000", 0xe000],
    ["\u202E", 0x202e],
    ["\uD800x", 0xd800],
  ])("rejects prohibited %j", (input, codePoint) => {
    expect(() => saslPrep(input)).toThrow(SaslPrepError);
    try {
      saslPrep(input);
    } catch (err) {
      expect((err as SaslPrepError).codePoint).toBe(codePoint);
      expect((err as SaslPrepError).name).toBe("SaslPrepError");
    }
  });

  it("keeps ordinary non-ASCII letters (NFKC composes)", () => {
    expect(saslPrep("e\u0301t\u00E9")).toBe("\u00E9t\u00E9");
  });
});
