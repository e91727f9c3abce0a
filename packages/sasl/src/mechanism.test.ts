import { describe, expect, it } from "vitest";
import { createMechanism, offeredMechanisms } from "./mechanism.js";

const lookup = async () => undefined;

describe("offeredMechanisms", () => {
  it("offers SCRAM only on a plaintext stream", () => {
    expect(offeredMechanisms({ tls: false })).toEqual(["SCRAM-SHA-256", "SCRAM-SHA-1"]);
  });

  it("adds PLAIN under TLS, last in preference", () => {
    expect(offeredMechanisms({ tls: true })).toEqual(["SCRAM-SHA-256", "SCRAM-SHA-1", "PLAIN"]);
  });
});

describe("createMechanism", () => {
  it.each(["SCRAM-SHA-256", "SCRAM-SHA-1"])("creates %s", (name) => {
    expect(createMechanism(name, lookup, { tls: false })?.name).toBe(name);
  });

  it.each(["SCRAM-SHA-256-PLUS", "DIGEST-MD5", "scram-sha-1", "toString", ""])("returns undefined for %j", (name) => {
    expect(createMechanism(name, lookup, { tls: true })).toBeUndefined();
  });

  it("returns a fresh state machine per call", async () => {
    const a = createMechanism("SCRAM-SHA-1", lookup, { tls: false })!;
    const b = createMechanism("SCRAM-SHA-1", lookup, { tls: false })!;
    await a.step(Buffer.from("garbage"));
    expect(await b.step(Buffer.from("n,,n=x,r=abc"))).toMatchObject({ kind: "challenge" });
  });
});
