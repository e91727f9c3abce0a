import { createHash, createHmac, pbkdf2Sync } from "node:crypto";
import { describe, expect, it } from "vitest";
import type { ChannelBindings } from "./channel-binding.js";
import { deriveCredentials } from "./credentials.js";
import { createMechanism, offeredMechanisms, type CredentialLookup, type MechanismOptions, type SaslStep } from "./mechanism.js";

/** A SCRAM client with channel binding (RFC 5802 §6), written apart from the server code. */
function plusClient(hash: "sha1" | "sha256", gs2Header: string, cbData: Buffer) {
  const bare = "n=alice,r=cnonce";
  return {
    first: () => Buffer.from(gs2Header + bare),
    final(serverFirst: string, cbind: Buffer = Buffer.concat([Buffer.from(gs2Header), cbData])): Buffer {
      const attrs = Object.fromEntries(serverFirst.split(",").map((a) => [a[0], a.slice(2)]));
      const salted = pbkdf2Sync("secret", Buffer.from(attrs.s!, "base64"), Number(attrs.i), hash === "sha1" ? 20 : 32, hash);
      const clientKey = createHmac(hash, salted).update("Client Key").digest();
      const storedKey = createHash(hash).update(clientKey).digest();
      const withoutProof = `c=${cbind.toString("base64")},r=${attrs.r}`;
      const signature = createHmac(hash, storedKey).update(`${bare},${serverFirst},${withoutProof}`).digest();
      const proof = Buffer.from(clientKey.map((b, i) => b ^ signature[i]!));
      return Buffer.from(`${withoutProof},p=${proof.toString("base64")}`);
    },
  };
}

const exporter = Buffer.from("0123456789abcdef0123456789abcdef");
const endPoint = Buffer.from("fedcba9876543210fedcba9876543210");
const bindings: ChannelBindings = {
  types: ["tls-exporter", "tls-server-end-point"],
  data: (type) => (type === "tls-exporter" ? exporter : type === "tls-server-end-point" ? endPoint : undefined),
};
const creds = deriveCredentials("secret", { iterations: 64 });
const lookup: CredentialLookup = async (u) => (u === "alice" ? creds : undefined);
const withBinding: MechanismOptions = { tls: true, channelBindings: bindings, unknownUserIterations: 64 };

const serverFirst = (step: SaslStep): string => {
  if (step.kind !== "challenge") throw new Error(`expected challenge, got ${JSON.stringify(step)}`);
  return step.data.toString();
};

async function exchange(mech: string, gs2Header: string, cbData: Buffer, opts = withBinding, cbind?: Buffer): Promise<SaslStep> {
  const m = createMechanism(mech, lookup, opts);
  if (!m) throw new Error(`${mech} not offered`);
  const hash = mech.startsWith("SCRAM-SHA-1") ? "sha1" : "sha256";
  const client = plusClient(hash, gs2Header, cbData);
  const first = await m.step(client.first());
  if (first.kind !== "challenge") return first;
  return m.step(client.final(serverFirst(first), cbind));
}

describe("SCRAM -PLUS offer", () => {
  it("offers the -PLUS variants first, only over TLS with a binding type", () => {
    expect(offeredMechanisms(withBinding)).toEqual(["SCRAM-SHA-256-PLUS", "SCRAM-SHA-1-PLUS", "SCRAM-SHA-256", "SCRAM-SHA-1", "PLAIN"]);
    expect(offeredMechanisms({ tls: true, channelBindings: { types: [], data: () => undefined } })).not.toContain("SCRAM-SHA-256-PLUS");
    expect(offeredMechanisms({ tls: false, channelBindings: bindings })).toEqual(["SCRAM-SHA-256", "SCRAM-SHA-1"]);
    expect(createMechanism("SCRAM-SHA-256-PLUS", lookup, { tls: true })).toBeUndefined();
  });
});

describe.each(["SCRAM-SHA-256-PLUS", "SCRAM-SHA-1-PLUS"])("%s", (mech) => {
  it("authenticates with tls-exporter", async () => {
    expect(await exchange(mech, "p=tls-exporter,,", exporter)).toMatchObject({ kind: "success", username: "alice" });
  });

  it("authenticates with tls-server-end-point and an authzid", async () => {
    expect(await exchange(mech, "p=tls-server-end-point,a=alice,", endPoint)).toMatchObject({ kind: "success", username: "alice" });
  });

  it("refuses binding data of another channel with not-authorized", async () => {
    expect(await exchange(mech, "p=tls-exporter,,", endPoint)).toMatchObject({ kind: "failure", condition: "not-authorized" });
  });

  it("refuses a c= that drops the binding data with not-authorized", async () => {
    expect(await exchange(mech, "p=tls-exporter,,", exporter, withBinding, Buffer.from("p=tls-exporter,,"))).toMatchObject({ kind: "failure", condition: "not-authorized" });
  });

  it("refuses a binding type the channel does not offer with not-authorized", async () => {
    expect(await exchange(mech, "p=tls-unique,,", exporter)).toMatchObject({ kind: "failure", condition: "not-authorized" });
    const exporterOnly: MechanismOptions = { ...withBinding, channelBindings: { types: ["tls-exporter"], data: (t) => (t === "tls-exporter" ? exporter : undefined) } };
    expect(await exchange(mech, "p=tls-server-end-point,,", endPoint, exporterOnly)).toMatchObject({ kind: "failure", condition: "not-authorized" });
  });

  it("refuses 'n' and 'y' with a -PLUS mechanism as malformed", async () => {
    expect(await exchange(mech, "n,,", Buffer.alloc(0))).toMatchObject({ kind: "failure", condition: "malformed-request" });
    expect(await exchange(mech, "y,,", Buffer.alloc(0))).toMatchObject({ kind: "failure", condition: "malformed-request" });
  });
});

describe("gs2 flags with the plain mechanism", () => {
  it("treats 'y' as a downgrade when -PLUS was offered", async () => {
    expect(await exchange("SCRAM-SHA-256", "y,,", Buffer.alloc(0))).toMatchObject({ kind: "failure", condition: "not-authorized" });
  });

  it("accepts 'y' when the channel offers no binding, and 'n' always", async () => {
    expect(await exchange("SCRAM-SHA-256", "y,,", Buffer.alloc(0), { tls: true, unknownUserIterations: 64 })).toMatchObject({ kind: "success" });
    expect(await exchange("SCRAM-SHA-256", "n,,", Buffer.alloc(0))).toMatchObject({ kind: "success" });
  });

  it("refuses 'p=' without -PLUS as malformed", async () => {
    expect(await exchange("SCRAM-SHA-256", "p=tls-exporter,,", exporter)).toMatchObject({ kind: "failure", condition: "malformed-request" });
  });
});
