import { afterEach, describe, expect, it } from "vitest";
import type { Element } from "@switchboard/xml";
import { createTestHost, type FakeSession, type TestHost } from "../testing/harness.js";
import { pingClient, pingModule } from "./index.js";

let t: TestHost;
afterEach(async () => t?.stop());

const isPing = (el: Element) => el.name === "iq" && el.attrs.type === "get" && el.getChild("ping", "urn:xmpp:ping") !== undefined;

async function answerPing(session: FakeSession): Promise<void> {
  const ping = await session.waitFor(isPing);
  await session.sendAsClient(`<iq type='result' id='${ping.attrs.id}' to='${ping.attrs.from}'/>`);
}

describe("client-to-server ping", () => {
  it("answers a ping to the server domain and to the own bare JID with an empty result", async () => {
    t = await createTestHost([pingModule]);
    const alice = await t.login("alice@localhost/a");
    await alice.sendAsClient("<iq type='get' id='p1' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>");
    await alice.sendAsClient("<iq type='get' id='p2'><ping xmlns='urn:xmpp:ping'/></iq>");
    for (const id of ["p1", "p2"]) {
      const iq = await alice.waitFor((el) => el.attrs.id === id);
      expect(iq.attrs.type).toBe("result");
      expect(iq.children).toHaveLength(0);
    }
    expect(t.host.disco.hostFeatures.has("urn:xmpp:ping")).toBe(true);
  });

  it("does not answer for another user's bare JID", async () => {
    t = await createTestHost([pingModule]);
    const alice = await t.login("alice@localhost/a");
    await t.login("bob@localhost/b");
    await alice.sendAsClient("<iq type='get' id='p3' to='bob@localhost'><ping xmlns='urn:xmpp:ping'/></iq>");
    const iq = await alice.waitFor((el) => el.attrs.id === "p3");
    expect(iq.attrs.type).toBe("error");
    expect(iq.getChild("error")!.getChild("service-unavailable")).toBeDefined();
  });
});

describe("pingClient", () => {
  it("resolves true when the client answers", async () => {
    t = await createTestHost([pingModule]);
    const alice = await t.login("alice@localhost/a");
    const answered = answerPing(alice);
    await expect(pingClient(t.host, "alice@localhost/a", 1000)).resolves.toBe(true);
    await answered;
  });

  it("resolves false after the timeout when the client stays silent, and leaves nothing pending", async () => {
    t = await createTestHost([pingModule]);
    const alice = await t.login("alice@localhost/a");
    const started = Date.now();
    await expect(pingClient(t.host, "alice@localhost/a", 100)).resolves.toBe(false);
    expect(Date.now() - started).toBeGreaterThanOrEqual(90);
    expect(alice.sent.filter(isPing)).toHaveLength(1);
    expect(t.host.pendingIqs.size).toBe(0);
  });

  it("resolves false at once for a resource that is not bound", async () => {
    t = await createTestHost([pingModule]);
    await expect(pingClient(t.host, "ghost@localhost/x", 5000)).resolves.toBe(false);
  });
});

describe("server-to-client keepalive", () => {
  it("closes the stream of a silent client that does not answer, keeps one that does", async () => {
    t = await createTestHost([[pingModule, { keepaliveSeconds: 0.05, timeoutSeconds: 0.1 }]]);
    const silent = await t.login("alice@localhost/a");
    const lively = await t.login("bob@localhost/b");
    let done = false;
    let answeredPings = 0;
    const keepAnswering = (async () => {
      while (!done && !lively.closed) {
        await answerPing(lively).catch(() => undefined);
        answeredPings++;
        lively.take(isPing);
      }
    })();
    await new Promise((r) => setTimeout(r, 600));
    expect(silent.closed).toBe(true);
    expect(silent.closeError?.condition).toBe("connection-timeout");
    expect(lively.closed).toBe(false);
    expect(answeredPings).toBeGreaterThan(1);
    done = true;
    await keepAnswering;
  });
});
