import { afterEach, describe, expect, it } from "vitest";
import type { Element } from "@switchboard/xml";
import { createTestHost, type FakeSession, type TestHost } from "../testing/harness.js";
import { vcardModule } from "./index.js";

let t: TestHost;
afterEach(async () => t?.stop());

let n = 0;
async function send(session: FakeSession, type: "get" | "set", to: string | undefined, body: string): Promise<Element> {
  const id = `vc${++n}`;
  await session.sendAsClient(`<iq type='${type}' id='${id}'${to ? ` to='${to}'` : ""}>${body}</iq>`);
  return session.waitFor((el) => el.attrs.id === id);
}

const condition = (iq: Element) => iq.getChild("error")?.getChildElements().find((c) => c.name !== "text")?.name;
const EMPTY = "<vCard xmlns='vcard-temp'/>";
const CARD = "<vCard xmlns='vcard-temp'><FN>Alice Liddell</FN><NICKNAME>al</NICKNAME></vCard>";

describe("vcard-temp", () => {
  it("returns an empty vCard before one is set, then the stored one (own account, with and without 'to')", async () => {
    t = await createTestHost([vcardModule]);
    const alice = await t.login("alice@localhost/a");
    const before = await send(alice, "get", undefined, EMPTY);
    expect(before.attrs.type).toBe("result");
    expect(before.getChild("vCard", "vcard-temp")!.children).toHaveLength(0);

    expect((await send(alice, "set", undefined, CARD)).attrs.type).toBe("result");
    const after = await send(alice, "get", "alice@localhost", EMPTY);
    expect(after.getChild("vCard", "vcard-temp")!.getChildText("FN")).toBe("Alice Liddell");
    expect(t.host.disco.hostFeatures.has("vcard-temp")).toBe(true);
    expect(t.host.disco.accountFeatures.has("vcard-temp")).toBe(true);
  });

  it("serves another user's vCard, an empty one for a user without one, and service-unavailable for no account", async () => {
    t = await createTestHost([vcardModule]);
    const alice = await t.login("alice@localhost/a");
    const bob = await t.login("bob@localhost/b");
    await send(alice, "set", undefined, CARD);
    const card = await send(bob, "get", "alice@localhost", EMPTY);
    expect(card.attrs.from).toBe("alice@localhost");
    expect(card.getChild("vCard", "vcard-temp")!.getChildText("NICKNAME")).toBe("al");
    await t.login("carol@localhost/c");
    expect((await send(bob, "get", "carol@localhost", EMPTY)).getChild("vCard", "vcard-temp")!.children).toHaveLength(0);
    expect(condition(await send(bob, "get", "nobody@localhost", EMPTY))).toBe("service-unavailable");
  });

  it("refuses to set another user's vCard with forbidden", async () => {
    t = await createTestHost([vcardModule]);
    await t.login("alice@localhost/a");
    const bob = await t.login("bob@localhost/b");
    const iq = await send(bob, "set", "alice@localhost", CARD);
    expect(condition(iq)).toBe("forbidden");
    expect(await t.store.vcard.get("alice@localhost")).toBeUndefined();
  });

  it("refuses a vCard above maxBytes with not-acceptable and keeps the old one", async () => {
    t = await createTestHost([[vcardModule, { maxBytes: 200 }]]);
    const alice = await t.login("alice@localhost/a");
    await send(alice, "set", undefined, CARD);
    const big = `<vCard xmlns='vcard-temp'><DESC>${"x".repeat(300)}</DESC></vCard>`;
    const iq = await send(alice, "set", undefined, big);
    expect(condition(iq)).toBe("not-acceptable");
    expect(iq.getChild("error")!.getChildText("text")).toMatch(/200 bytes/);
    expect(await t.store.vcard.get("alice@localhost")).toContain("Alice Liddell");
  });
});
