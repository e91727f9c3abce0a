import { afterEach, describe, expect, it } from "vitest";
import type { Element } from "@switchboard/xml";
import { loadModule, type InProcessMetrics } from "@switchboard/core";
import { createTestHost, type FakeSession, type TestHost } from "../testing/harness.js";
import { presenceModule } from "../presence/index.js";
import { rosterModule } from "../roster/index.js";
import { discoModule } from "../disco/index.js";
import { blockingModule } from "../blocking/index.js";
import { capsModule } from "../caps/index.js";
import { DISCO, announce } from "../caps/test-helpers.js";
import { pepModule } from "./index.js";

const EVENT = "http://jabber.org/protocol/pubsub#event";
const PUBLISH_OPTIONS = "http://jabber.org/protocol/pubsub#publish-options";
let t: TestHost;
afterEach(async () => t?.stop());

const MODULES = [rosterModule, presenceModule, discoModule, blockingModule, capsModule, pepModule];

async function friends(a: string, b: string): Promise<void> {
  const item = (jid: string) => ({ jid, groups: [], subscription: "both" as const, askOut: false, askIn: false, approved: false, inRoster: true });
  await t.store.roster.put(a, item(b));
  await t.store.roster.put(b, item(a));
}

let n = 0;
async function iq(s: FakeSession, body: string, type = "set", to?: string): Promise<Element> {
  const id = `q${++n}`;
  await s.sendAsClient(`<iq type='${type}' id='${id}'${to ? ` to='${to}'` : ""}>${body}</iq>`);
  return s.waitFor((el) => el.name === "iq" && el.attrs.id === id);
}
function publish(node: string, payload: string, options?: Record<string, string>, id = "current"): string {
  const form = options
    ? `<publish-options><x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>${PUBLISH_OPTIONS}</value></field>${Object.entries(options)
        .map(([k, v]) => `<field var='${k}'><value>${v}</value></field>`)
        .join("")}</x></publish-options>`
    : "";
  return `<pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='${node}'><item id='${id}'>${payload}</item></publish>${form}</pubsub>`;
}
const events = (s: FakeSession, node?: string) =>
  s.take((el) => el.name === "message" && el.getChild("event", EVENT) !== undefined && (node === undefined || el.getChild("event", EVENT)!.getChild("items")?.attrs.node === node));
const condition = (el: Element) => el.getChild("error")?.getChildElements()[0]?.name;

describe("pep module", () => {
  it("notifies the owner's and a contact's resources whose caps want the node, and none the recipient blocked", async () => {
    t = await createTestHost(MODULES);
    const alice = await t.login("alice@localhost/a");
    const bob = await t.login("bob@localhost/b");
    const carol = await t.login("carol@localhost/c");
    await friends("alice@localhost", "bob@localhost");
    await friends("alice@localhost", "carol@localhost");
    for (const s of [alice, bob, carol]) await announce(s, [DISCO, "urn:x:n+notify"]);
    await iq(carol, "<block xmlns='urn:xmpp:blocking'><item jid='alice@localhost'/></block>");
    expect((await iq(alice, publish("urn:x:n", "<v xmlns='urn:x:n'>1</v>"))).attrs.type).toBe("result");
    const ev = await bob.waitFor((el) => el.name === "message" && el.getChild("event", EVENT) !== undefined);
    expect(ev.attrs).toMatchObject({ from: "alice@localhost", to: "bob@localhost/b", type: "headline" });
    expect(ev.getChild("event", EVENT)!.getChild("items")!.getChild("item")!.getChild("v", "urn:x:n")!.getText()).toBe("1");
    await alice.waitFor((el) => el.name === "message" && el.getChild("event", EVENT) !== undefined);
    expect(events(carol)).toEqual([]);
    // alice's and bob's; carol's was suppressed by her blocklist
    expect((t.host.metrics as InProcessMetrics).value("switchboard_pep_notifications_total")).toBe(2);
  });

  it("sends the last item of each wanted node once caps are known: own nodes, contacts' presence and open nodes, not whitelist or 'never'", async () => {
    t = await createTestHost(MODULES);
    const alice = await t.login("alice@localhost/a");
    await friends("alice@localhost", "bob@localhost");
    await iq(alice, publish("urn:x:presence", "<v xmlns='urn:x'>p1</v>", undefined, "1"));
    await iq(alice, publish("urn:x:presence", "<v xmlns='urn:x'>p2</v>", undefined, "2"));
    await iq(alice, publish("urn:x:open", "<v xmlns='urn:x'>o</v>", { "pubsub#access_model": "open" }));
    await iq(alice, publish("urn:x:private", "<v xmlns='urn:x'>w</v>", { "pubsub#access_model": "whitelist" }));
    await iq(alice, publish("urn:x:never", "<v xmlns='urn:x'>n</v>", { "pubsub#send_last_published_item": "never" }));
    const wants = [DISCO, ...["presence", "open", "private", "never"].map((s) => `urn:x:${s}+notify`)];
    const bob = await t.login("bob@localhost/b");
    await announce(bob, wants);
    await new Promise((r) => setTimeout(r, 50));
    const got = events(bob).map((e) => {
      const items = e.getChild("event", EVENT)!.getChild("items")!;
      return `${items.attrs.node}=${items.getChild("item")!.getChild("v")!.getText()}`;
    });
    expect(got.sort()).toEqual(["urn:x:open=o", "urn:x:presence=p2"]);
    // the owner's own new resource gets every node it wants except the 'never' one
    const phone = await t.login("alice@localhost/phone");
    await announce(phone, wants);
    await new Promise((r) => setTimeout(r, 50));
    expect(events(phone).map((e) => e.getChild("event", EVENT)!.getChild("items")!.attrs.node).sort()).toEqual(["urn:x:open", "urn:x:presence", "urn:x:private"]);
  });

  it("sends the last items to a contact once the owner approves its subscription", async () => {
    t = await createTestHost(MODULES);
    const alice = await t.login("alice@localhost/a");
    const bob = await t.login("bob@localhost/b");
    await alice.sendAsClient("<presence/>");
    await announce(bob, [DISCO, "urn:x:n+notify", "urn:x:w+notify"]);
    await iq(alice, publish("urn:x:n", "<v xmlns='urn:x'>n</v>"));
    await iq(alice, publish("urn:x:w", "<v xmlns='urn:x'>w</v>", { "pubsub#access_model": "whitelist" }));
    await new Promise((r) => setTimeout(r, 20));
    expect(events(bob)).toEqual([]); // not a contact yet
    await bob.sendAsClient("<presence to='alice@localhost' type='subscribe'/>");
    await alice.waitFor((el) => el.name === "presence" && el.attrs.type === "subscribe");
    await alice.sendAsClient("<presence to='bob@localhost' type='subscribed'/>");
    const ev = await bob.waitFor((el) => el.name === "message" && el.getChild("event", EVENT) !== undefined);
    expect(ev.getChild("event", EVENT)!.getChild("items")!.attrs.node).toBe("urn:x:n");
    await new Promise((r) => setTimeout(r, 20));
    expect(events(bob, "urn:x:w")).toEqual([]);
  });

  it("answers items to the owner and refuses others by access model", async () => {
    t = await createTestHost(MODULES);
    const alice = await t.login("alice@localhost/a");
    const eve = await t.login("eve@localhost/e");
    await iq(alice, publish("urn:x:open", "<v xmlns='urn:x'>o</v>", { "pubsub#access_model": "open" }));
    await iq(alice, publish("urn:x:p", "<v xmlns='urn:x'>p</v>"));
    const get = (node: string) => `<pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='${node}'/></pubsub>`;
    expect((await iq(eve, get("urn:x:open"), "get", "alice@localhost")).attrs.type).toBe("result");
    const refused = await iq(eve, get("urn:x:p"), "get", "alice@localhost");
    expect(condition(refused)).toBe("not-authorized");
    expect(refused.getChild("error")!.getChild("presence-subscription-required", "http://jabber.org/protocol/pubsub#errors")).toBeDefined();
    expect(condition(await iq(eve, get("urn:x:none"), "get", "alice@localhost"))).toBe("item-not-found");
  });

  it("keeps at most pep.maxItemsPerNode items ('max'), the newest, and one when items are not persisted", async () => {
    t = await createTestHost([...MODULES.slice(0, -1), [pepModule, { maxItemsPerNode: 3 }]]);
    const alice = await t.login("alice@localhost/a");
    for (const id of ["1", "2", "3", "4", "5"]) await iq(alice, publish("urn:x:many", `<v xmlns='urn:x'>${id}</v>`, { "pubsub#max_items": "max" }, id));
    expect((await t.store.pep.items("alice@localhost", "urn:x:many")).map((i) => i.id)).toEqual(["5", "4", "3"]);
    expect(condition(await iq(alice, publish("urn:x:more", "<v xmlns='urn:x'/>", { "pubsub#max_items": "4" })))).toBe("conflict");
    for (const id of ["1", "2"]) await iq(alice, publish("urn:x:fleeting", `<v xmlns='urn:x'>${id}</v>`, { "pubsub#persist_items": "false", "pubsub#max_items": "3" }, id));
    expect((await t.store.pep.items("alice@localhost", "urn:x:fleeting")).map((i) => i.id)).toEqual(["2"]);
  });

  it("rejects limits that are not positive integers", async () => {
    t = await createTestHost([]);
    await expect(loadModule(t.host, pepModule, { maxItemBytes: 0 })).rejects.toThrow(/pep.maxItemBytes/);
    await expect(loadModule(t.host, pepModule, { maxNodesPerUser: 1.5 })).rejects.toThrow(/pep.maxNodesPerUser/);
    await expect(loadModule(t.host, pepModule, { maxItemsPerNode: -1 })).rejects.toThrow(/pep.maxItemsPerNode/);
    await expect(loadModule(t.host, pepModule, { maxNodeNameLength: 5000 })).rejects.toThrow(/pep.maxNodeNameLength/);
  });
});
