import { createHash, createHmac, pbkdf2Sync } from "node:crypto";
import { describe, expect, it } from "vitest";
import { deriveCredentials, deriveCredentialsAsync, verifyPassword, verifyPasswordAsync } from "./credentials.js";
import { SaslPrepError } from "./saslprep.js";

describe("deriveCredentials", () => {
  it("matches the RFC 5802 §3 definitions for both hashes", () => {
    const salt = Buffer.from("QSXCR+Q6sek8bf92", "base64");
    const creds = deriveCredentials("pencil", { salt, iterations: 4096 });
    for (const [mech, algo, len] of [["SCRAM-SHA-1", "sha1", 20], ["SCRAM-SHA-256", "sha256", 32]] as const) {
      const salted = pbkdf2Sync("pencil", salt, 4096, len, algo);
      const clientKey = createHmac(algo, salted).update("Client Key").digest();
      expect(creds[mech]).toEqual({
        salt: "QSXCR+Q6sek8bf92",
        iterations: 4096,
        storedKey: createHash(algo).update(clientKey).digest("base64"),
        serverKey: createHmac(algo, salted).update("Server Key").digest("base64"),
      });
    }
    // RFC 5802 §5 example: ClientKey for "pencil" is what yields the published proof; StoredKey from it.
    expect(creds["SCRAM-SHA-1"].storedKey).toBe("6dlGYMOdZcOPutkcNY8U2g7vK9Y=");
  });

  it("defaults to 4096 iterations and separate random 16-byte salts per hash", () => {
    const creds = deriveCredentials("pw", {});
    expect(creds["SCRAM-SHA-1"].iterations).toBe(4096);
    expect(creds["SCRAM-SHA-256"].iterations).toBe(4096);
    expect(Buffer.from(creds["SCRAM-SHA-1"].salt, "base64")).toHaveLength(16);
    expect(creds["SCRAM-SHA-1"].salt).not.toBe(creds["SCRAM-SHA-256"].salt);
    expect(deriveCredentials("pw")["SCRAM-SHA-256"].salt).not.toBe(creds["SCRAM-SHA-256"].salt);
  });

  it("async and sync forms agree for the same salt", async () => {
    const salt = Buffer.from("0123456789abcdef");
    expect(await deriveCredentialsAsync("pw", { salt, iterations: 32 })).toEqual(deriveCredentials("pw", { salt, iterations: 32 }));
  });

  it("normalises the password with SASLprep before hashing", () => {
    const salt = Buffer.from("0123456789abcdef");
    // U+00AD SOFT HYPHEN maps to nothing, U+2003 EM SPACE to SPACE.
    expect(deriveCredentials("a\u00ADb\u2003c", { salt, iterations: 8 })).toEqual(deriveCredentials("ab c", { salt, iterations: 8 }));
  });

  it("rejects prohibited passwords and bad iteration counts", async () => {
    expect(() => deriveCredentials("bad\u0000pw", { iterations: 8 })).toThrow(SaslPrepError);
    expect(() => deriveCredentials("pw", { iterations: 0 })).toThrow(RangeError);
    await expect(deriveCredentialsAsync("pw", { iterations: 1.5 })).rejects.toThrow(RangeError);
  });
});

describe("verifyPassword", () => {
  const creds = deriveCredentials("correct horse", { iterations: 16 });

  it("accepts the right password and rejects others", () => {
    expect(verifyPassword(creds, "correct horse")).toBe(true);
    expect(verifyPassword(creds, "correct horsE")).toBe(false);
    expect(verifyPassword(creds, "")).toBe(false);
  });

  it("returns false instead of throwing for a password SASLprep rejects", () => {
    expect(verifyPassword(creds, "correct\u0007horse")).toBe(false);
  });

  it("checks against SCRAM-SHA-256 material", () => {
    const other = deriveCredentials("other", { iterations: 16 });
    expect(verifyPassword({ ...creds, "SCRAM-SHA-256": other["SCRAM-SHA-256"] }, "other")).toBe(true);
  });

  it("has an async form with the same answers", async () => {
    expect(await verifyPasswordAsync(creds, "correct horse")).toBe(true);
    expect(await verifyPasswordAsync(creds, "wrong")).toBe(false);
  });
});
