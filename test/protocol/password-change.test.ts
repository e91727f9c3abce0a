/**
 * XEP-0077 account management for logged-in users on a server with registration closed (the
 * default): "change password" (§3.3) and "delete account" (§3.2) work, creating accounts
 * before login does not (test/protocol/register.test.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, xml } from "../support/client.js";
import { startTestServer, type TestServer } from "../support/server.js";

const NS = "jabber:iq:register";
let ts: TestServer;

beforeAll(async () => {
  ts = await startTestServer();
  await ts.addUser("changer", "old-pass");
  await ts.addUser("quitter", "bye-pass");
});
afterAll(async () => ts?.stop());

describe("account management with registration closed (XEP-0077)", () => {
  it("tells a logged-in user it is registered, and changes its password: the new one logs in, the old one fails", async () => {
    const c = await connect(ts, "changer", { password: "old-pass", resource: "a" });
    const info = await c.iq(xml("iq", { type: "get" }, xml("query", { xmlns: NS })));
    expect(info.getChild("query", NS)?.getChild("registered")).toBeTruthy();
    expect(info.getChild("query", NS)?.getChildText("username")).toBe("changer");
    const disco = await c.iq(xml("iq", { type: "get", to: "localhost" }, xml("query", { xmlns: "http://jabber.org/protocol/disco#info" })));
    expect(disco.getChild("query")!.getChildren("feature").map((f) => f.attrs.var)).toContain(NS);

    await c.iq(xml("iq", { type: "set", to: "localhost" }, xml("query", { xmlns: NS }, xml("username", {}, "changer"), xml("password", {}, "new-pass"))));
    await c.stop();

    await expect(connect(ts, "changer", { password: "old-pass" })).rejects.toThrow(/not-authorized/);
    const again = await connect(ts, "changer", { password: "new-pass", resource: "b" });
    expect(again.jid).toBe("changer@localhost/b");
    await again.stop();
  });

  it("removes the account of a logged-in user, which cannot log in afterwards", async () => {
    const q = await connect(ts, "quitter", { password: "bye-pass", resource: "q" });
    const done = await q.iq(xml("iq", { type: "set" }, xml("query", { xmlns: NS }, xml("remove"))));
    expect(done.attrs.type).toBe("result");
    await q.stop();
    expect(await ts.server.host.store.accounts.exists("quitter@localhost")).toBe(false);
    await expect(connect(ts, "quitter", { password: "bye-pass" })).rejects.toThrow(/not-authorized/);
  });
});
