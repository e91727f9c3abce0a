/**
 * XEP-0049 private XML storage through real clients, with what clients still keep there:
 * legacy bookmarks (XEP-0048 'storage:bookmarks'). Read back from another connection (another
 * edge in cluster mode) and after a restart.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, xml } from "../support/client.js";
import { startTestServer, type TestServer } from "../support/server.js";

const NS = "jabber:iq:private";
const BOOKMARKS = "storage:bookmarks";
let ts: TestServer;

beforeAll(async () => {
  ts = await startTestServer();
  for (const u of ["keeper", "snoop"]) await ts.addUser(u);
});
afterAll(async () => ts?.stop());

const privateIq = (type: "get" | "set", payload: ReturnType<typeof xml>, to?: string) => xml("iq", { type, to }, xml("query", { xmlns: NS }, payload));

async function refusal(request: Promise<unknown>): Promise<string> {
  const err = (await request.then(() => undefined, (e: unknown) => e)) as { condition?: string } | undefined;
  return err?.condition ?? "no error";
}

describe("private XML storage (XEP-0049)", () => {
  it("stores legacy bookmarks and reads them back on another connection and after a restart", async () => {
    const laptop = await connect(ts, "keeper", { resource: "laptop" });
    const before = await laptop.iq(privateIq("get", xml("storage", { xmlns: BOOKMARKS })));
    expect(before.getChild("query", NS)?.getChild("storage", BOOKMARKS)?.children).toEqual([]);

    const bookmarks = xml(
      "storage",
      { xmlns: BOOKMARKS },
      xml("conference", { jid: "council@conference.localhost", autojoin: "true", name: "Council" }, xml("nick", {}, "keeper")),
      xml("url", { name: "Home", url: "https://example.org/" }),
    );
    await laptop.iq(privateIq("set", bookmarks));

    const phone = await connect(ts, "keeper", { resource: "phone" });
    const read = async () => (await phone.iq(privateIq("get", xml("storage", { xmlns: BOOKMARKS })))).getChild("query", NS)?.getChild("storage", BOOKMARKS);
    const storage = await read();
    expect(storage?.getChild("conference")?.attrs).toMatchObject({ jid: "council@conference.localhost", autojoin: "true", name: "Council" });
    expect(storage?.getChild("conference")?.getChildText("nick")).toBe("keeper");
    expect(storage?.getChild("url")?.attrs.url).toBe("https://example.org/");
    await Promise.all([laptop.stop(), phone.stop()]);

    await ts.restart();
    const again = await connect(ts, "keeper", { resource: "again" });
    const kept = await again.iq(privateIq("get", xml("storage", { xmlns: BOOKMARKS })));
    expect(kept.getChild("query", NS)?.getChild("storage", BOOKMARKS)?.getChild("conference")?.attrs.name).toBe("Council");
    await again.stop();
  });

  it("refuses another account's storage with forbidden and a payload without a namespace with not-acceptable", async () => {
    const snoop = await connect(ts, "snoop", { resource: "s" });
    expect(await refusal(snoop.iq(privateIq("get", xml("storage", { xmlns: BOOKMARKS }), "keeper@localhost")))).toBe("forbidden");
    expect(await refusal(snoop.iq(privateIq("set", xml("storage", { xmlns: BOOKMARKS }), "keeper@localhost")))).toBe("forbidden");
    expect(await refusal(snoop.iq(xml("iq", { type: "set" }, xml("query", { xmlns: NS }))))).toBe("not-acceptable");
    expect(await refusal(snoop.iq(privateIq("set", xml("storage", {}))))).toBe("not-acceptable");
    await snoop.stop();
  });
});
