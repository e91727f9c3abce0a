import net from "node:net";
import tls from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Jid, parseJid, x, type Element } from "@switchboard/xml";
import { Host, MemoryLimiter, MemorySessionRegistry, MemoryStanzaBus, MemoryStore, silentLogger, type StanzaEvent } from "@switchboard/core";
import { DialbackKeys } from "./dialback.js";
import { RemoteDomains } from "./remote-domains.js";
import { RemoteResolver } from "./resolve.js";
import type { S2sOptions } from "./options.js";

/** a remote that takes each connection and drops it at once, counting them */
let flaky: net.Server;
let connections = 0;

beforeAll(async () => {
  flaky = net.createServer((s) => (connections++, s.destroy()));
  await new Promise<void>((r) => flaky.listen(0, "127.0.0.1", r));
});
afterAll(() => flaky.close());

function setup() {
  const host = new Host({ domain: "localhost", nodeId: "n1", store: new MemoryStore(), registry: new MemorySessionRegistry(), bus: new MemoryStanzaBus(), limiter: new MemoryLimiter(), log: silentLogger });
  const bounces: Array<{ id?: string; condition: string }> = [];
  // what the sender would get back: recorded here (the router's own bounce is tested with it)
  host.router.bounce = async (ev: StanzaEvent, condition: string) => void bounces.push({ id: ev.stanza.attrs.id, condition });
  const port = (flaky.address() as net.AddressInfo).port;
  const opts = {
    requireTls: true, allowDialback: true, maxQueueBytes: 1 << 20, idleMs: 60_000, parser: {}, blockedDomains: ["blocked.test"],
    handshakeTimeoutMs: 5000, tlsContext: tls.createSecureContext(), routes: {},
  } as unknown as S2sOptions;
  const remote = new RemoteDomains(host, opts, new DialbackKeys(Buffer.alloc(32)), new RemoteResolver({ "flaky.test": `127.0.0.1:${port}` }));
  const ev = (stanza: Element): StanzaEvent => ({ stanza, kind: stanza.name as never, from: new Jid("u", "localhost", "r"), to: parseJid(stanza.attrs.to!) });
  return { remote, bounces, ev };
}

const until = async (cond: () => boolean) => {
  for (let i = 0; i < 200 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
};

describe("routing to remote domains", () => {
  it("bounces on failure, then at once during the backoff without a new connection, until the remote shows it is up", async () => {
    const { remote, bounces, ev } = setup();
    const before = connections;
    await remote.route(ev(x("message", { to: "a@flaky.test", id: "m1", type: "chat" })));
    await until(() => bounces.length === 1);
    expect(bounces).toEqual([{ id: "m1", condition: "remote-server-timeout" }]);
    expect(connections - before).toBe(1);
    // within the backoff: bounced at once, nothing dialled
    await remote.route(ev(x("message", { to: "a@flaky.test", id: "m2", type: "chat" })));
    expect(bounces.at(-1)).toEqual({ id: "m2", condition: "remote-server-timeout" });
    expect(connections - before).toBe(1);
    // presence has nobody to tell: not bounced
    await remote.route(ev(x("presence", { to: "a@flaky.test" })));
    expect(bounces).toHaveLength(2);
    // the remote authenticated a stream to us: it is up, the next stanza dials again
    remote.remoteIsUp("flaky.test");
    await remote.route(ev(x("message", { to: "a@flaky.test", id: "m3", type: "chat" })));
    await until(() => bounces.length === 3);
    expect(connections - before).toBe(2);
    await remote.stop();
  });

  it("refuses a blocked domain with not-allowed and one it cannot resolve with remote-server-not-found", async () => {
    const { remote, bounces, ev } = setup();
    await remote.route(ev(x("iq", { to: "blocked.test", id: "i1", type: "get" })));
    await remote.route(ev(x("iq", { to: "unrouted.test", id: "i2", type: "get" })));
    await until(() => bounces.length === 2);
    expect(bounces).toEqual([{ id: "i1", condition: "not-allowed" }, { id: "i2", condition: "remote-server-not-found" }]);
    await remote.stop();
  });
});
