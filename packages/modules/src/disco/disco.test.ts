import { afterEach, describe, expect, it } from "vitest";
import type { Element } from "@switchboard/xml";
import { createTestHost, type FakeSession, type TestHost } from "../testing/harness.js";
import { pingModule } from "../ping/index.js";
import { versionModule } from "../version/index.js";
import { addDiscoItem, discoModule } from "./index.js";

const INFO = "http://jabber.org/protocol/disco#info";
const ITEMS = "http://jabber.org/protocol/disco#items";

let t: TestHost;
afterEach(async () => t?.stop());

async function ask(session: FakeSession, id: string, to: string, ns: string, node?: string): Promise<Element> {
  const nodeAttr = node === undefined ? "" : ` node='${node}'`;
  await session.sendAsClient(`<iq type='get' id='${id}' to='${to}'><query xmlns='${ns}'${nodeAttr}/></iq>`);
  return session.waitFor((el) => el.attrs.id === id);
}

function features(iq: Element): string[] {
  return iq.getChild("query")!.getChildren("feature").map((f) => f.attrs.var!);
}

function condition(iq: Element): string | undefined {
  return iq.getChild("error")?.children.find((c): c is Element => typeof c !== "string" && c.name !== "text")?.name;
}

async function roster(host: TestHost, owner: string, contact: string, subscription: "none" | "to" | "from" | "both") {
  await host.store.roster.put(owner, { jid: contact, groups: [], subscription, askOut: false, askIn: false, approved: false, inRoster: true });
}

describe("disco#info on the server domain", () => {
  it("lists the server identity and every host feature, sorted and without duplicates", async () => {
    t = await createTestHost([discoModule, pingModule, versionModule]);
    t.host.disco.addHostFeature("urn:example:custom");
    t.host.disco.addHostFeature(INFO);
    const alice = await t.login("alice@localhost/a");
    const iq = await ask(alice, "i1", "localhost", INFO);
    expect(iq.attrs.type).toBe("result");
    expect(iq.attrs.from).toBe("localhost");
    const identity = iq.getChild("query")!.getChild("identity")!;
    expect(identity.attrs).toMatchObject({ category: "server", type: "im" });
    const list = features(iq);
    expect(list).toEqual([...new Set(list)].sort());
    expect(list).toEqual(expect.arrayContaining([INFO, ITEMS, "urn:xmpp:ping", "jabber:iq:version", "urn:example:custom"]));
  });

  it("answers item-not-found for a node it does not know", async () => {
    t = await createTestHost([discoModule]);
    const alice = await t.login("alice@localhost/a");
    const iq = await ask(alice, "i2", "localhost", INFO, "urn:nope");
    expect(iq.attrs.type).toBe("error");
    expect(condition(iq)).toBe("item-not-found");
  });
});

describe("disco#info on an account", () => {
  it("answers the account itself with account/registered and account features", async () => {
    t = await createTestHost([discoModule]);
    t.host.disco.addAccountFeature("urn:example:pep");
    const alice = await t.login("alice@localhost/a");
    const iq = await ask(alice, "a1", "alice@localhost", INFO);
    expect(iq.attrs.type).toBe("result");
    expect(iq.attrs.from).toBe("alice@localhost");
    expect(iq.getChild("query")!.getChild("identity")!.attrs).toMatchObject({ category: "account", type: "registered" });
    expect(features(iq)).toContain("urn:example:pep");
    expect(features(iq)).toContain(INFO);
  });

  it("answers a contact with a 'from' or 'both' subscription", async () => {
    t = await createTestHost([discoModule]);
    await t.login("alice@localhost/a");
    const bob = await t.login("bob@localhost/b");
    await roster(t, "alice@localhost", "bob@localhost", "from");
    expect((await ask(bob, "a2", "alice@localhost", INFO)).attrs.type).toBe("result");
    await roster(t, "alice@localhost", "bob@localhost", "both");
    expect((await ask(bob, "a3", "alice@localhost", ITEMS)).attrs.type).toBe("result");
  });

  it("refuses strangers and contacts without a presence subscription with service-unavailable", async () => {
    t = await createTestHost([discoModule]);
    await t.login("alice@localhost/a");
    const bob = await t.login("bob@localhost/b");
    expect(condition(await ask(bob, "s1", "alice@localhost", INFO))).toBe("service-unavailable");
    await roster(t, "alice@localhost", "bob@localhost", "to");
    expect(condition(await ask(bob, "s2", "alice@localhost", INFO))).toBe("service-unavailable");
    expect(condition(await ask(bob, "s3", "alice@localhost", ITEMS))).toBe("service-unavailable");
    // a missing account looks exactly like a private one
    expect(condition(await ask(bob, "s4", "nobody@localhost", INFO))).toBe("service-unavailable");
  });
});

describe("disco#items", () => {
  it("lists items added with addDiscoItem and forgets them when removed", async () => {
    t = await createTestHost([discoModule]);
    const alice = await t.login("alice@localhost/a");
    expect((await ask(alice, "n1", "localhost", ITEMS)).getChild("query")!.getChildren("item")).toHaveLength(0);
    const remove = addDiscoItem(t.host, { jid: "conference.localhost", name: "Rooms" });
    const items = (await ask(alice, "n2", "localhost", ITEMS)).getChild("query")!.getChildren("item");
    expect(items.map((i) => i.attrs)).toEqual([{ jid: "conference.localhost", name: "Rooms" }]);
    remove();
    expect((await ask(alice, "n3", "localhost", ITEMS)).getChild("query")!.getChildren("item")).toHaveLength(0);
  });

  it("answers an empty list for the own account", async () => {
    t = await createTestHost([discoModule]);
    const alice = await t.login("alice@localhost/a");
    const iq = await ask(alice, "n4", "alice@localhost", ITEMS);
    expect(iq.attrs.type).toBe("result");
    expect(iq.getChild("query", ITEMS)).toBeDefined();
  });
});
