/** XEP-0202 entity time: the server answers for its domain, a client's time is the client's to give. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, xml, type Element } from "../support/client.js";
import { startTestServer, type TestServer } from "../support/server.js";

const NS = "urn:xmpp:time";

interface IqCallee {
  get(ns: string, name: string, handler: () => Element): void;
}
let ts: TestServer;

beforeAll(async () => {
  ts = await startTestServer();
  for (const u of ["clock", "watch"]) await ts.addUser(u);
});
afterAll(async () => ts?.stop());

describe("entity time (XEP-0202)", () => {
  it("gives the server's UTC time and offset, and lists the feature in disco", async () => {
    const c = await connect(ts, "clock", { resource: "t" });
    const before = Date.now();
    const iq = await c.iq(xml("iq", { type: "get", to: "localhost" }, xml("time", { xmlns: NS })));
    const after = Date.now();
    const time = iq.getChild("time", NS)!;
    expect(time.getChildText("tzo")).toMatch(/^[+-]\d\d:\d\d$/);
    const utc = time.getChildText("utc")!;
    expect(utc).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
    expect(Date.parse(utc)).toBeGreaterThanOrEqual(before - 1000);
    expect(Date.parse(utc)).toBeLessThanOrEqual(after + 1000);
    const info = await c.iq(xml("iq", { type: "get", to: "localhost" }, xml("query", { xmlns: "http://jabber.org/protocol/disco#info" })));
    expect(info.getChild("query")!.getChildren("feature").map((f) => f.attrs.var)).toContain(NS);
    await c.stop();
  });

  it("delivers a query to a full JID to that client, whose answer comes back", async () => {
    const asker = await connect(ts, "clock", { resource: "asker" });
    const answerer = await connect(ts, "watch", { resource: "wrist" });
    // @xmpp/client answers IQs through its iqCallee (the support typings leave it out)
    const callee = (answerer.xmpp as unknown as { iqCallee: IqCallee }).iqCallee;
    callee.get(NS, "time", () => xml("time", { xmlns: NS }, xml("tzo", {}, "-06:00"), xml("utc", {}, "2006-12-19T17:58:35Z")));
    const iq = await asker.iq(xml("iq", { type: "get", to: "watch@localhost/wrist" }, xml("time", { xmlns: NS })));
    expect(iq.attrs.from).toBe("watch@localhost/wrist");
    expect(iq.getChild("time", NS)!.getChildText("tzo")).toBe("-06:00");
    await Promise.all([asker.stop(), answerer.stop()]);
  });
});
