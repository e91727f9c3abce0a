import { createHash, createHmac, pbkdf2Sync } from "node:crypto";
import { describe, expect, it } from "vitest";
import { deriveCredentials } from "./credentials.js";
import { createMechanism, type CredentialLookup, type MechanismOptions, type SaslStep } from "./mechanism.js";
import type { AccountCredentials } from "./types.js";

type Scram = "SCRAM-SHA-1" | "SCRAM-SHA-256";
const DIGEST = { "SCRAM-SHA-1": "sha1", "SCRAM-SHA-256": "sha256" } as const;

/** A tiny SCRAM client (RFC 5802 §3), written independently of the server code. */
function scramClient(mech: Scram, username: string, password: string, clientNonce: string, gs2Header = "n,,") {
  const algo = DIGEST[mech];
  const bare = `n=${username.replace(/=/g, "=3D").replace(/,/g, "=2C")},r=${clientNonce}`;
  let expectedServerSignature = "";
  return {
    first: () => Buffer.from(gs2Header + bare),
    final(serverFirst: string, tamper: { nonce?: string; cbind?: string; proof?: (p: Buffer) => Buffer } = {}): Buffer {
      const attrs = Object.fromEntries(serverFirst.split(",").map((a) => [a[0], a.slice(2)]));
      const salted = pbkdf2Sync(password, Buffer.from(attrs.s!, "base64"), Number(attrs.i), algo === "sha1" ? 20 : 32, algo);
      const clientKey = createHmac(algo, salted).update("Client Key").digest();
      const storedKey = createHash(algo).update(clientKey).digest();
      const withoutProof = `c=${tamper.cbind ?? Buffer.from(gs2Header).toString("base64")},r=${tamper.nonce ?? attrs.r}`;
      const authMessage = `${bare},${serverFirst},${withoutProof}`;
      const signature = createHmac(algo, storedKey).update(authMessage).digest();
      let proof: Buffer = Buffer.from(clientKey.map((b, i) => b ^ signature[i]!));
      if (tamper.proof) proof = tamper.proof(proof);
      const serverKey = createHmac(algo, salted).update("Server Key").digest();
      expectedServerSignature = `v=${createHmac(algo, serverKey).update(authMessage).digest("base64")}`;
      return Buffer.from(`${withoutProof},p=${proof.toString("base64")}`);
    },
    get expectedServerFinal() {
      return expectedServerSignature;
    },
  };
}

const text = (step: SaslStep): string => {
  if (step.kind !== "challenge") throw new Error(`expected challenge, got ${JSON.stringify(step)}`);
  return step.data.toString();
};

const ITERATIONS = 64;
const aliceCreds = deriveCredentials("secret", { iterations: ITERATIONS });
const accounts = new Map<string, AccountCredentials>([["alice", aliceCreds]]);
const lookup: CredentialLookup = async (u) => accounts.get(u);
const opts: MechanismOptions = { tls: false, unknownUserIterations: ITERATIONS };

function start(mech: Scram, o: MechanismOptions = opts, l: CredentialLookup = lookup) {
  const m = createMechanism(mech, l, o);
  if (!m) throw new Error("mechanism not created");
  return m;
}

async function login(mech: Scram, username: string, password: string) {
  const m = start(mech);
  const client = scramClient(mech, username, password, "clientnonce123");
  const serverFirst = text(await m.step(client.first()));
  const result = await m.step(client.final(serverFirst));
  return { result, serverFirst, client, m };
}

describe("SCRAM known-answer vectors", () => {
  it("reproduces the RFC 5802 §5 SCRAM-SHA-1 exchange", async () => {
    const creds = deriveCredentials("pencil", { salt: Buffer.from("QSXCR+Q6sek8bf92", "base64"), iterations: 4096 });
    const m = start("SCRAM-SHA-1", { tls: false, nonce: () => "3rfcNHYJY1ZVvWVs7j" }, async (u) => (u === "user" ? creds : undefined));
    const serverFirst = await m.step(Buffer.from("n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL"));
    expect(text(serverFirst)).toBe("r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096");
    const final = await m.step(
      Buffer.from("c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts="),
    );
    expect(final).toEqual({ kind: "success", username: "user", data: Buffer.from("v=rmF9pqV8S7suAoZWja4dJRkFsKQ=") });
  });

  it("reproduces the RFC 7677 §3 SCRAM-SHA-256 exchange", async () => {
    const creds = deriveCredentials("pencil", { salt: Buffer.from("W22ZaJ0SNY7soEsUEjb6gQ==", "base64"), iterations: 4096 });
    const m = start("SCRAM-SHA-256", { tls: false, nonce: () => "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0" }, async (u) =>
      u === "user" ? creds : undefined,
    );
    const serverFirst = await m.step(Buffer.from("n,,n=user,r=rOprNGfwEbeRWgbNEkqO"));
    expect(text(serverFirst)).toBe("r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096");
    const final = await m.step(
      Buffer.from("c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="),
    );
    expect(final).toEqual({
      kind: "success",
      username: "user",
      data: Buffer.from("v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="),
    });
  });
});

describe.each(["SCRAM-SHA-1", "SCRAM-SHA-256"] as const)("%s exchange", (mech) => {
  it("succeeds with the right password and proves the server knows the key", async () => {
    const { result, serverFirst, client } = await login(mech, "alice", "secret");
    expect(serverFirst).toMatch(new RegExp(`^r=clientnonce123[A-Za-z0-9+/=]{24},s=${aliceCreds[mech].salt.replace(/\+/g, "\\+")},i=${ITERATIONS}$`));
    expect(result).toEqual({ kind: "success", username: "alice", data: Buffer.from(client.expectedServerFinal) });
  });

  it("fails with not-authorized for a wrong password", async () => {
    expect((await login(mech, "alice", "wrong")).result).toEqual({ kind: "failure", condition: "not-authorized" });
  });

  it("treats an unknown user exactly like a wrong password, with a stable fake salt", async () => {
    const first = await login(mech, "mallory", "secret");
    const second = await login(mech, "mallory", "other");
    const other = await login(mech, "trent", "secret");
    expect(first.result).toEqual({ kind: "failure", condition: "not-authorized" });
    const salt = (sf: string) => sf.split(",")[1];
    expect(salt(first.serverFirst)).toBe(salt(second.serverFirst));
    expect(salt(first.serverFirst)).not.toBe(salt(other.serverFirst));
    expect(salt(first.serverFirst)).toMatch(/^s=[A-Za-z0-9+/]{22}==$/);
    expect(first.serverFirst.split(",")[2]).toBe(`i=${ITERATIONS}`);
  });

  it("rejects a client-final whose nonce differs from the combined nonce", async () => {
    const m = start(mech);
    const client = scramClient(mech, "alice", "secret", "abc");
    const serverFirst = text(await m.step(client.first()));
    const step = await m.step(client.final(serverFirst, { nonce: "abcTAMPERED" }));
    expect(step).toMatchObject({ kind: "failure", condition: "not-authorized" });
  });

  it("rejects tampered channel-binding data", async () => {
    const m = start(mech);
    const client = scramClient(mech, "alice", "secret", "abc");
    const serverFirst = text(await m.step(client.first()));
    const step = await m.step(client.final(serverFirst, { cbind: Buffer.from("y,,").toString("base64") }));
    expect(step).toMatchObject({ kind: "failure", condition: "not-authorized" });
  });

  it("rejects a flipped proof bit", async () => {
    const m = start(mech);
    const client = scramClient(mech, "alice", "secret", "abc");
    const serverFirst = text(await m.step(client.first()));
    const step = await m.step(client.final(serverFirst, { proof: (p) => ((p[0] ^= 1), p) }));
    expect(step).toEqual({ kind: "failure", condition: "not-authorized" });
  });

  it("accepts the 'y' flag and an authzid equal to the username", async () => {
    const m = start(mech);
    const client = scramClient(mech, "alice", "secret", "abc", "y,a=alice,");
    const serverFirst = text(await m.step(client.first()));
    expect(await m.step(client.final(serverFirst))).toMatchObject({ kind: "success", username: "alice" });
  });

  it("refuses an authzid naming someone else", async () => {
    const step = await start(mech).step(Buffer.from("n,a=bob,n=alice,r=abc"));
    expect(step).toEqual({ kind: "failure", condition: "invalid-authzid" });
  });

  it("refuses channel binding requests ('p=') with a mechanism without -PLUS", async () => {
    const step = await start(mech).step(Buffer.from("p=tls-exporter,,n=alice,r=abc"));
    expect(step).toMatchObject({ kind: "failure", condition: "malformed-request" });
  });

  it("decodes =2C and =3D in usernames before the lookup", async () => {
    const seen: string[] = [];
    const m = start(mech, opts, async (u) => (seen.push(u), undefined));
    await m.step(Buffer.from("n,,n=a=2Cb=3Dc,r=abc"));
    expect(seen).toEqual(["a,b=c"]);
  });

  it("SASLpreps the username (NFKC) before the lookup and reports it on success", async () => {
    const m = start(mech, opts, async (u) => (u === "alice" ? aliceCreds : undefined));
    // U+FF41 FULLWIDTH LATIN SMALL LETTER A normalises to "a" under NFKC.
    const client = scramClient(mech, "\uFF41lice", "secret", "abc");
    const serverFirst = text(await m.step(client.first()));
    expect(await m.step(client.final(serverFirst))).toMatchObject({ kind: "success", username: "alice" });
  });

  it("answers an empty first payload with one empty challenge, then continues", async () => {
    const m = start(mech);
    expect(await m.step(Buffer.alloc(0))).toEqual({ kind: "challenge", data: Buffer.alloc(0) });
    const client = scramClient(mech, "alice", "secret", "abc");
    const serverFirst = text(await m.step(client.first()));
    expect(await m.step(client.final(serverFirst))).toMatchObject({ kind: "success" });
  });

  it("fails a second empty payload with malformed-request", async () => {
    const m = start(mech);
    await m.step(Buffer.alloc(0));
    expect(await m.step(Buffer.alloc(0))).toMatchObject({ kind: "failure", condition: "malformed-request" });
  });

  it.each([
    ["garbage", "hello world"],
    ["missing gs2-header", "n=alice,r=abc"],
    ["missing nonce", "n,,n=alice"],
    ["empty username", "n,,n=,r=abc"],
    ["bad saslname escape", "n,,n=al=ice,r=abc"],
    ["mandatory extension", "n,,m=ext,n=alice,r=abc"],
    ["nonce with a control char", "n,,n=alice,r=a\u0001b"],
    ["control char in username", "n,,n=al\u0007ice,r=abc"],
    ["unknown cbind flag", "x,,n=alice,r=abc"],
  ])("fails a malformed client-first (%s)", async (_label, msg) => {
    expect(await start(mech).step(Buffer.from(msg))).toMatchObject({ kind: "failure", condition: "malformed-request" });
  });

  it("fails client-first that is not UTF-8", async () => {
    const bytes = Buffer.concat([Buffer.from("n,,n="), Buffer.from([0xff, 0xfe]), Buffer.from(",r=abc")]);
    expect(await start(mech).step(bytes)).toMatchObject({ kind: "failure", condition: "malformed-request" });
  });

  it.each([
    ["garbage", () => "garbage"],
    ["missing proof", (sf: string) => `c=biws,${sf.split(",")[0]}`],
    ["proof not base64", (sf: string) => `c=biws,${sf.split(",")[0]},p=!!!!`],
    ["short proof", (sf: string) => `c=biws,${sf.split(",")[0]},p=AAAA`],
    ["fields out of order", (sf: string) => `${sf.split(",")[0]},c=biws,p=AAAA`],
  ])("fails a malformed client-final (%s)", async (_label, build) => {
    const m = start(mech);
    const serverFirst = text(await m.step(Buffer.from("n,,n=alice,r=abc")));
    expect(await m.step(Buffer.from(build(serverFirst)))).toMatchObject({ kind: "failure", condition: "malformed-request" });
  });

  it("fails every step after the exchange has finished", async () => {
    const { m, client, serverFirst } = await login(mech, "alice", "secret");
    expect(await m.step(client.final(serverFirst))).toMatchObject({ kind: "failure", condition: "malformed-request" });
    const failed = start(mech);
    await failed.step(Buffer.from("garbage"));
    expect(await failed.step(client.first())).toMatchObject({ kind: "failure", condition: "malformed-request" });
  });

  it("maps a failing credential lookup to temporary-auth-failure", async () => {
    const m = start(mech, opts, async () => {
      throw new Error("store down");
    });
    expect(await m.step(Buffer.from("n,,n=alice,r=abc"))).toEqual({ kind: "failure", condition: "temporary-auth-failure" });
  });
});
