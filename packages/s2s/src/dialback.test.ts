import { describe, expect, it } from "vitest";
import { x } from "@switchboard/xml";
import { DialbackKeys, dialbackElement, NS_DIALBACK } from "./dialback.js";
import { createHash, createHmac } from "node:crypto";

describe("dialback keys (XEP-0185)", () => {
  const secret = Buffer.alloc(32, 7);

  it("is HMAC-SHA256 keyed with SHA-256 of the secret over 'receiving originating id', in hex", () => {
    const expected = createHmac("sha256", createHash("sha256").update(secret).digest()).update("b.test a.test abc123").digest("hex");
    expect(new DialbackKeys(secret).key("b.test", "a.test", "abc123")).toBe(expected);
  });

  it("gives every node with the same secret the same answer, and no other", () => {
    const key = new DialbackKeys(secret).key("b.test", "a.test", "id1");
    expect(new DialbackKeys(Buffer.from(secret)).verify("b.test", "a.test", "id1", key)).toBe(true);
    expect(new DialbackKeys(Buffer.alloc(32, 8)).verify("b.test", "a.test", "id1", key)).toBe(false);
    expect(new DialbackKeys(secret).verify("b.test", "a.test", "id2", key)).toBe(false);
    expect(new DialbackKeys(secret).verify("a.test", "b.test", "id1", key)).toBe(false);
    expect(new DialbackKeys(secret).verify("b.test", "a.test", "id1", "short")).toBe(false);
  });

  it("recognises dialback elements with the db prefix or a default namespace only", () => {
    expect(dialbackElement(x("db:result", { "xmlns:db": NS_DIALBACK }))).toBe("result");
    expect(dialbackElement(x("verify", { xmlns: NS_DIALBACK }))).toBe("verify");
    expect(dialbackElement(x("db:result", { "xmlns:db": "urn:other" }))).toBeUndefined();
    expect(dialbackElement(x("result", { xmlns: "jabber:server" }))).toBeUndefined();
  });
});
