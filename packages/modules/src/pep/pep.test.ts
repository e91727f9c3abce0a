import { afterEach, describe, expect, it } from "vitest";
import { createHash } from "node:crypto";
import type { Element } from "@switchboard/xml";
import { createTestHost, type FakeSession, type TestHost } from "../testing/harness.js";
import { presenceModule } from "../presence/index.js";
import { rosterModule } from "../roster/index.js";
import { discoModule } from "../disco/index.js";
import { capsModule } from "../caps/index.js";
import { pepModule } from "./index.js";

const NICK = "http://jabber.org/protocol/nick";
const DISCO = "http://jabber.org/protocol/disco#info";
const EVENT = "http://jabber.org/protocol/pubsub#event";
let t: TestHost;
afterEach(async () => t?.stop());

const MODULES = [rosterModule, presenceModule, discoModule, capsModule, pepModule];

async function friends(a: string, b: string): Promise<void> {
  const item = (jid: string) => ({ jid, groups: [], subscription: "both" as const, askOut: false, askIn: false, approved: false, inRoster: true });
  await t.store.roster.put(a, item(b));
  await t.store.roster.put(b, item(a));
}

function ver(features: string[]): string {
  return createHash("sha1").update(`client/pc//Test<${[...features].sort().map((f) => `${f}<`).join("")}`).digest("base64");
}

/** Sends caps presence and answers the server's disco#info query (with `answer` features, default the claimed ones). */
async function caps(s: FakeSession, features: string[], answer = features): Promise<void> {
  await s.sendAsClient(`<presence><c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='n' ver='${ver(features)}'/></presence>`);
  const q = await s.waitFor((el) => el.name === "iq" && el.getChild("query", DISCO) !== undefined).catch(() => undefined);
  if (!q) return;
  s.take((el) => el === q);
  await s.sendAsClient(
    `<iq type='result' id='${q.attrs.id}' to='${q.attrs.from}'><query xmlns='${DISCO}' node='${q.getChild("query")!.attrs.node}'><identity category='client' type='pc' name='Test'/>${answer.map((f) => `<feature var='${f}'/>`).join("")}</query></iq>`,
  );
  await new Promise((r) => setTimeout(r, 20));
}

let n = 0;
async function iq(s: FakeSession, body: string, type = "set", to?: string): Promise<Element> {
  const id = `q${++n}`;
  await s.sendAsClient(`<iq type='${type}' id='${id}'${to ? ` to='${to}'` : ""}>${body}</iq>`);
  return s.waitFor((el) => el.name === "iq" && el.attrs.id === id);
}
const publish = (node: string, payload: string, id = "current") => `<pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='${node}'><item id='${id}'>${payload}</item></publish></pubsub>`;
const isEvent = (el: Element) => el.name === "message" && el.getChild("event", EVENT) !== undefined;

describe("pep module", () => {
  it("notifies the owner's and a contact's resources whose caps want the node", async () => {
    t = await createTestHost(MODULES);
    const alice = await t.login("alice@localhost/a");
    const bob = await t.login("bob@localhost/b");
    await friends("alice@localhost", "bob@localhost");
    await caps(alice, [DISCO, `${NICK}+notify`]);
    await caps(bob, [DISCO, `${NICK}+notify`]);
    const r = await iq(alice, publish(NICK, `<nick xmlns='${NICK}'>A</nick>`));
    expect(r.attrs.type).toBe("result");
    const ev = await bob.waitFor(isEvent);
    expect(ev.attrs).toMatchObject({ from: "alice@localhost", to: "bob@localhost/b", type: "headline" });
    await alice.waitFor(isEvent);
  });
});
