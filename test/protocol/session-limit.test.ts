/**
 * limits.maxSessionsPerUser: the sessions one account holds at once, on every node, detached
 * stream-management sessions included. One bind more gets <resource-constraint/> (type wait,
 * RFC 6120 §7.6.2.1) and the stream stays open; rebinding a resource already held replaces it.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RawConnection } from "../support/raw.js";
import { startTestServer, type TestServer } from "../support/server.js";

let ts: TestServer;
let next = 0;
const open: RawConnection[] = [];

beforeAll(async () => {
  ts = await startTestServer({ limits: { maxSessionsPerUser: 2 } });
  await ts.addUser("busy");
  await ts.addUser("other");
});
afterAll(async () => {
  for (const c of open) c.close();
  await ts?.stop();
});

/** authenticates on the next node and asks to bind `resource`; the bind answer */
async function bind(user: string, resource: string): Promise<{ c: RawConnection; answer: string }> {
  const c = await RawConnection.open(ts.nodes[next++ % ts.nodes.length]!.ports.c2s);
  open.push(c);
  await c.authenticate(user, "secret");
  c.buffer = "";
  c.write(`<iq type='set' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>${resource}</resource></bind></iq>`);
  const answer = await c.waitFor(/<\/iq>/);
  c.buffer = "";
  return { c, answer };
}

describe("limits.maxSessionsPerUser", () => {
  it("refuses one session more with resource-constraint, counts a detached one, and lets a held resource be replaced", async () => {
    const first = await bind("busy", "one");
    expect(first.answer).toContain("<jid>busy@localhost/one</jid>");
    // a resumable stream-management session whose connection drops stays, detached
    first.c.write("<enable xmlns='urn:xmpp:sm:3' resume='true'/>");
    await first.c.waitFor(/<enabled /);
    first.c.close();
    const second = await bind("busy", "two");
    expect(second.answer).toContain("<jid>busy@localhost/two</jid>");

    const third = await bind("busy", "three");
    expect(third.answer).toMatch(/type="error"/);
    expect(third.answer).toMatch(/<error type="wait"><resource-constraint xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"\/>/);
    expect(third.answer).toContain("limits.maxSessionsPerUser");
    // the stream is still open: the client may bind a resource it already holds instead
    third.c.write(`<iq type='set' id='b2'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>two</resource></bind></iq>`);
    expect(await third.c.waitFor(/<\/iq>/)).toContain("<jid>busy@localhost/two</jid>");
    await second.c.waitFor(/<conflict /);

    // another user is not affected
    expect((await bind("other", "x")).answer).toContain("<jid>other@localhost/x</jid>");
    const refusals = ts.server.host.metrics as unknown as { value(n: string, l?: Record<string, string>): number };
    const total = ts.nodes.reduce((n, node) => n + (node.host.metrics as unknown as typeof refusals).value("switchboard_limit_refusals_total", { policy: "max-sessions-per-user" }), 0);
    expect(total).toBe(1);
  });
});
