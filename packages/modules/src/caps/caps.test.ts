import { afterEach, describe, expect, it } from "vitest";
import { MemorySessionRegistry, MemoryStanzaBus, MemoryStore, loadModule, type InProcessMetrics } from "@switchboard/core";
import { createTestHost, type TestHost } from "../testing/harness.js";
import { presenceModule } from "../presence/index.js";
import { rosterModule } from "../roster/index.js";
import { capsModule, capsDirectory, type CapsKnownEvent } from "./index.js";
import { DISCO, announce, verOf } from "./test-helpers.js";

let hosts: TestHost[] = [];
afterEach(async () => {
  for (const h of hosts) await h.stop();
  hosts = [];
});
async function host(opts: Parameters<typeof createTestHost>[1] = {}, caps: Record<string, unknown> = {}): Promise<TestHost> {
  const h = await createTestHost([rosterModule, presenceModule, [capsModule, caps]], opts);
  hosts.push(h);
  return h;
}
function known(h: TestHost): CapsKnownEvent[] {
  const seen: CapsKnownEvent[] = [];
  h.host.hooks.on("caps/known", (ev) => void seen.push(ev), { band: "observe" });
  return seen;
}
const FEATURES = [DISCO, "urn:example:n+notify"];

describe("entity capabilities (XEP-0115)", () => {
  it("verifies an unknown hash once, caches it in the store, and tells of each session's known caps", async () => {
    const t = await host();
    const seen = known(t);
    const a = await t.login("alice@localhost/a");
    const b = await t.login("bob@localhost/b");
    expect(await announce(a, FEATURES)).toBe(true);
    expect(await announce(b, FEATURES)).toBe(false); // the cache answered
    await new Promise((r) => setTimeout(r, 20));
    expect(await t.store.pep.capsGet(`sha-1 ${verOf(FEATURES)}`)).toEqual(FEATURES);
    expect(seen.map((e) => [e.session.jid.full, [...e.features].sort()])).toEqual([
      ["alice@localhost/a", [...FEATURES].sort()],
      ["bob@localhost/b", [...FEATURES].sort()],
    ]);
    // the same caps again: nothing new for that session
    await a.sendAsClient(`<presence><status>away</status><c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='n' ver='${verOf(FEATURES)}'/></presence>`);
    await new Promise((r) => setTimeout(r, 20));
    expect(seen).toHaveLength(2);
    expect(capsDirectory(t.host).queries).toBe(1);
    expect((t.host.metrics as InProcessMetrics).value("switchboard_caps_verifications_total", { result: "matched" })).toBe(1);
  });

  it("ignores a hash that does not match the answer: not cached, no event, asked again next time", async () => {
    const t = await host();
    const seen = known(t);
    const a = await t.login("alice@localhost/a");
    expect(await announce(a, FEATURES, { claimed: "AAAAAAAAAAAAAAAAAAAAAAAAAAA=" })).toBe(true);
    expect(await t.store.pep.capsGet("sha-1 AAAAAAAAAAAAAAAAAAAAAAAAAAA=")).toBeUndefined();
    const b = await t.login("alice@localhost/b");
    expect(await announce(b, FEATURES, { claimed: "AAAAAAAAAAAAAAAAAAAAAAAAAAA=" })).toBe(true);
    expect(seen).toEqual([]);
    expect((t.host.metrics as InProcessMetrics).value("switchboard_caps_verifications_total", { result: "mismatched" })).toBe(2);
    // a legacy claim without 'hash', or another hash function, is never asked about
    await a.sendAsClient("<presence><c xmlns='http://jabber.org/protocol/caps' node='n' ver='1.0' ext='x'/></presence>");
    await a.sendAsClient("<presence><c xmlns='http://jabber.org/protocol/caps' hash='md5' node='n' ver='abc'/></presence>");
    await new Promise((r) => setTimeout(r, 50));
    expect(a.take((el) => el.name === "iq")).toEqual([]);
  });

  it("stops asking a session that keeps inventing new hashes past verificationsPerSession", async () => {
    const t = await host({}, { verificationsPerSession: 2 });
    const a = await t.login("alice@localhost/a");
    expect(await announce(a, [...FEATURES, "urn:x:1"])).toBe(true);
    expect(await announce(a, [...FEATURES, "urn:x:2"])).toBe(true);
    expect(await announce(a, [...FEATURES, "urn:x:3"])).toBe(false);
    expect(await t.store.pep.capsGet(`sha-1 ${verOf([...FEATURES, "urn:x:3"])}`)).toBeUndefined();
  });

  it("lets another node of the cluster read a hash as soon as one node verified it", async () => {
    const shared = { store: new MemoryStore(), registry: new MemorySessionRegistry(), bus: new MemoryStanzaBus() };
    const one = await host({ cluster: { nodeId: "one", ...shared } });
    const two = await host({ cluster: { nodeId: "two", ...shared } });
    const key = `sha-1 ${verOf(FEATURES)}`;
    expect(await capsDirectory(two.host).features(key)).toBeUndefined(); // remembered as unknown for a while
    const a = await one.login("alice@localhost/a");
    expect(await announce(a, FEATURES)).toBe(true);
    await new Promise((r) => setTimeout(r, 20));
    expect([...((await capsDirectory(two.host).features(key)) ?? [])]).toEqual(FEATURES);
  });

  it("rejects a verification allowance that is not a positive integer", async () => {
    const t = await createTestHost([]);
    hosts.push(t);
    await expect(loadModule(t.host, capsModule, { verificationsPerSession: 0 })).rejects.toThrow(/caps.verificationsPerSession/);
  });
});
