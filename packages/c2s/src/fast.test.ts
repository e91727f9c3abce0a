import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { parseFrame } from "@switchboard/xml";
import { TokenSeal, fastMechanisms, parseFastRequest } from "./fast.js";



describe("FAST token seal", () => {
  const secret = randomBytes(32);
  const seal = new TokenSeal(secret);

  it("keeps no trace of the token and opens only for the same owner, agent and secret", () => {
    const token = "the-token-value-1234567890";
    const sealed = seal.seal(token, "alice@localhost", "agent");
    expect(sealed).not.toContain(token);
    expect(Buffer.from(sealed, "base64").toString("latin1")).not.toContain(token);
    expect(seal.open(sealed, "alice@localhost", "agent")).toBe(token);
    expect(seal.open(sealed, "bob@localhost", "agent")).toBeUndefined();
    expect(seal.open(sealed, "alice@localhost", "other")).toBeUndefined();
    expect(new TokenSeal(randomBytes(32)).open(sealed, "alice@localhost", "agent")).toBeUndefined();
    expect(seal.open("garbage", "alice@localhost", "agent")).toBeUndefined();
  });

  it("seals the same token differently each time (a fresh IV)", () => {
    expect(seal.seal("t", "a@b", "x")).not.toBe(seal.seal("t", "a@b", "x"));
  });
});

describe("FAST requests and mechanisms", () => {
  it("offers nothing in the clear and the bound mechanisms only where the channel has the type", () => {
    expect(fastMechanisms(false)).toEqual([]);
    expect(fastMechanisms(true)).toEqual(["HT-SHA-256-NONE"]);
    expect(fastMechanisms(true, { types: ["tls-exporter"], data: () => undefined })).toEqual(["HT-SHA-256-EXPR", "HT-SHA-256-NONE"]);
  });

  it("reads request-token, count and invalidate, and names what is malformed", () => {
    const el = (xml: string) => parseFrame(xml);
    expect(parseFastRequest(el("<authenticate xmlns='urn:xmpp:sasl:2'><request-token xmlns='urn:xmpp:fast:0' mechanism='HT-SHA-256-NONE'/><fast xmlns='urn:xmpp:fast:0' count='7' invalidate='true'/></authenticate>"))).toEqual({
      requestToken: "HT-SHA-256-NONE",
      count: 7,
      invalidate: true,
    });
    expect(parseFastRequest(el("<authenticate xmlns='urn:xmpp:sasl:2'/>"))).toEqual({ invalidate: false });
    expect(parseFastRequest(el("<authenticate xmlns='urn:xmpp:sasl:2'><request-token xmlns='urn:xmpp:fast:0' mechanism='PLAIN'/></authenticate>"))).toMatch(/no HT mechanism/);
    expect(parseFastRequest(el("<authenticate xmlns='urn:xmpp:sasl:2'><fast xmlns='urn:xmpp:fast:0' count='1e3'/></authenticate>"))).toMatch(/count/);
  });
});
