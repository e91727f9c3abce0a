import { mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { AdminTokenError, ensureAdminToken, tokenMatches } from "./token.js";

describe("admin token (admin.tokenFile)", () => {
  it("is made on first start with mode 0600, and kept across starts", () => {
    const file = join(mkdtempSync(join(tmpdir(), "sb-token-")), "sub", "admin-token");
    const token = ensureAdminToken(file);
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readFileSync(file, "utf8").trim()).toBe(token);
    expect(ensureAdminToken(file)).toBe(token);
  });

  it("tightens a readable file's mode, and refuses a file without a token", () => {
    const dir = mkdtempSync(join(tmpdir(), "sb-token-"));
    const loose = join(dir, "loose");
    writeFileSync(loose, "an-operator-chosen-token-of-some-length\n", { mode: 0o644 });
    expect(ensureAdminToken(loose)).toBe("an-operator-chosen-token-of-some-length");
    expect(statSync(loose).mode & 0o777).toBe(0o600);
    const empty = join(dir, "empty");
    writeFileSync(empty, "\n");
    expect(() => ensureAdminToken(empty)).toThrow(AdminTokenError);
    expect(() => ensureAdminToken(empty)).toThrow(/admin.tokenFile .*empty.* holds no token/);
  });

  it("compares in constant time and only equal strings match", () => {
    expect(tokenMatches("abc", "abc")).toBe(true);
    expect(tokenMatches("abd", "abc")).toBe(false);
    expect(tokenMatches("ab", "abc")).toBe(false);
  });
});
