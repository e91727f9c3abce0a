import { describe, expect, it } from "vitest";
import { deriveCredentials } from "./credentials.js";
import { createMechanism, type CredentialLookup, type MechanismOptions } from "./mechanism.js";
import { PlainMechanism } from "./plain.js";
import type { AccountCredentials } from "./types.js";

const ITERATIONS = 64;
const accounts = new Map<string, AccountCredentials>([["alice", deriveCredentials("secret", { iterations: ITERATIONS })]]);
const lookup: CredentialLookup = async (u) => accounts.get(u);
const tls: MechanismOptions = { tls: true, unknownUserIterations: ITERATIONS };

const plain = (authzid: string, authcid: string, password: string) => Buffer.from(`${authzid}\0${authcid}\0${password}`);

function start(o: MechanismOptions = tls, l: CredentialLookup = lookup) {
  const m = createMechanism("PLAIN", l, o);
  if (!m) throw new Error("PLAIN not created");
  return m;
}

describe("PLAIN", () => {
  it("is not available without TLS", () => {
    expect(createMechanism("PLAIN", lookup, { tls: false })).toBeUndefined();
  });

  it("refuses with encryption-required if constructed directly on a plaintext stream", async () => {
    const m = new PlainMechanism(lookup, { tls: false });
    expect(await m.step(plain("", "alice", "secret"))).toEqual({ kind: "failure", condition: "encryption-required" });
  });

  it("authenticates with the right password under TLS", async () => {
    expect(await start().step(plain("", "alice", "secret"))).toEqual({ kind: "success", username: "alice" });
  });

  it("accepts an authzid equal to the authcid", async () => {
    expect(await start().step(plain("alice", "alice", "secret"))).toEqual({ kind: "success", username: "alice" });
  });

  it("refuses an authzid naming someone else", async () => {
    expect(await start().step(plain("bob", "alice", "secret"))).toEqual({ kind: "failure", condition: "invalid-authzid" });
  });

  it("fails a wrong password with not-authorized", async () => {
    expect(await start().step(plain("", "alice", "wrong"))).toEqual({ kind: "failure", condition: "not-authorized" });
  });

  it("fails an unknown user exactly like a wrong password", async () => {
    expect(await start().step(plain("", "mallory", "secret"))).toEqual({ kind: "failure", condition: "not-authorized" });
  });

  it("SASLpreps the password: a non-ASCII space matches a stored ASCII space", async () => {
    const creds = deriveCredentials("two words", { iterations: ITERATIONS });
    const m = start(tls, async (u) => (u === "bob" ? creds : undefined));
    expect(await m.step(plain("", "bob", "two\u00A0words"))).toEqual({ kind: "success", username: "bob" });
  });

  it.each([
    ["no NUL at all", Buffer.from("alice secret")],
    ["only one NUL", Buffer.from("alice\0secret")],
    ["three NULs", Buffer.from("\0alice\0secret\0")],
    ["empty authcid", plain("", "", "secret")],
    ["empty password", plain("", "alice", "")],
    ["invalid UTF-8", Buffer.from([0, 0x61, 0, 0xff])],
    ["control character in username", plain("", "al\u0007ice", "secret")],
    ["field over 255 octets", plain("", "alice", "x".repeat(256))],
  ])("fails malformed input (%s) with malformed-request", async (_label, input) => {
    expect(await start().step(input)).toMatchObject({ kind: "failure", condition: "malformed-request" });
  });

  it("answers an empty initial payload with an empty challenge, then authenticates", async () => {
    const m = start();
    expect(await m.step(Buffer.alloc(0))).toEqual({ kind: "challenge", data: Buffer.alloc(0) });
    expect(await m.step(plain("", "alice", "secret"))).toEqual({ kind: "success", username: "alice" });
  });

  it("fails any step after completion", async () => {
    const m = start();
    await m.step(plain("", "alice", "secret"));
    expect(await m.step(plain("", "alice", "secret"))).toMatchObject({ kind: "failure", condition: "malformed-request" });
  });

  it("maps a failing lookup to temporary-auth-failure", async () => {
    const m = start(tls, async () => {
      throw new Error("store down");
    });
    expect(await m.step(plain("", "alice", "secret"))).toEqual({ kind: "failure", condition: "temporary-auth-failure" });
  });
});
