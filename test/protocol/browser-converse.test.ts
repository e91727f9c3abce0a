/**
 * Interop in a real browser: converse.js (a web client not written here) in Debian's headless
 * Chromium logs in over the WebSocket endpoint (RFC 7395), joins a room, sees what a room
 * occupant says, and chats with a user on a raw client. A screenshot of the page is saved to
 * results/converse-<mode>.png. converse joins with `<history maxstanzas='0'/>`: it takes a room's
 * history only from MAM (XEP-0313), so the history Bob leaves is for the MAM check.
 *
 * .ci/run installs Chromium; where it is missing, or converse.js cannot be fetched (support/
 * converse.ts), the test is skipped and says so. It also checks that converse publishes its OMEMO
 * device list and bundles through PEP (XEP-0163), which it skips when the account lacks the
 * pubsub/pep identity.
 */
import { mkdirSync } from "node:fs";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { chromium, type Browser, type Page } from "playwright-core";
import { deriveCredentials } from "@switchboard/sasl";
import { connect, xml, type TestClient } from "../support/client.js";
import { chromiumPath, conversePage, converseDist, servePage } from "../support/converse.js";
import { configure, join, SERVICE } from "../support/muc.js";
import { startTestServer, TEST_MODE, type TestServer } from "../support/server.js";

const dist = chromiumPath ? converseDist() : { missing: "no Chromium (apt install chromium)" };
if ("missing" in dist) console.warn(`browser-converse: ${dist.missing}; skipped`);

const ROOM = `lobby@${SERVICE}`;

describe.skipIf("missing" in dist)("converse.js in Chromium (a web client not written here)", () => {
  let ts: TestServer;
  let bob: TestClient;
  let browser: Browser;
  let page: Page;
  let site: { url: string; close(): Promise<void> };
  const pageLog: string[] = [];
  // what converse said, when a step fails
  afterEach((ctx) => {
    if (ctx.task.result?.state === "fail") console.warn(`converse's console (last 60 lines):\n${pageLog.slice(-60).join("\n")}`);
  });

  beforeAll(async () => {
    ts = await startTestServer();
    // converse refuses SCRAM below RFC 7677's 4096 iterations (ts.addUser uses 256 for speed)
    await ts.server.host.store.accounts.create("conv-alice@localhost", deriveCredentials("alice secret"));
    await ts.addUser("conv-bob", "bob secret");
    // Bob makes the room and leaves history in it before converse arrives.
    bob = await connect(ts, "conv-bob", { password: "bob secret" });
    await bob.send(xml("presence"));
    await join(bob, ROOM, "bob");
    await configure(bob, ROOM, {});
    for (const n of [1, 2, 3]) await bob.send(xml("message", { to: ROOM, type: "groupchat", id: `h${n}` }, xml("body", {}, `history ${n}`)));
    await bob.waitFor((el) => el.is("message") && el.getChildText("body") === "history 3");
    // converse on the other node in cluster mode
    const node = ts.nodes[ts.nodes.length - 1]!;
    const websocketUrl = `ws://127.0.0.1:${node.ports.http}${ts.config.http.websocketPath}`;
    site = await servePage((dist as { dir: string }).dir, conversePage({ websocketUrl, jid: "conv-alice@localhost", password: "alice secret", rooms: [ROOM] }));
    browser = await chromium.launch({ executablePath: chromiumPath, headless: true, args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"] });
    page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    page.on("console", (m) => pageLog.push(`${m.type()}: ${m.text().slice(0, 400)}`));
    page.on("pageerror", (e) => pageLog.push(`pageerror: ${e.message}`));
    await page.goto(site.url);
  }, 120_000);

  afterAll(async () => {
    if (page) {
      mkdirSync("results", { recursive: true });
      await page.screenshot({ path: `results/converse-${TEST_MODE}.png` }).catch(() => {});
    }
    await browser?.close();
    await site?.close();
    await bob?.stop();
    await ts?.stop();
  });

  it("logs in over the WebSocket", async () => {
    await page.waitForFunction(() => (globalThis as any).sb?.connection?.connected?.() === true, undefined, { timeout: 30_000 });
    expect(await page.evaluate(() => (globalThis as any).sb.user.jid())).toMatch(/^conv-alice@localhost\/.+/);
  }, 40_000);

  it("joins the room and shows what an occupant says", async () => {
    // converse's ROOMSTATUS.ENTERED is 5 (predicates are synchronous: a promise would count as true)
    await page.waitForFunction((room) => (globalThis as any).sbChat(room)?.session?.get("connection_status") === 5, ROOM, { timeout: 30_000, polling: 250 });
    await bob.send(xml("message", { to: ROOM, type: "groupchat", id: "live1" }, xml("body", {}, "live from bob")));
    await page.waitForFunction((room) => (globalThis as any).sbBodies(room).includes("live from bob"), ROOM, { timeout: 20_000, polling: 250 });
    // rendered in the room's view (in the DOM; the fullscreen layout shows one chat at a time)
    for (const text of ["live from bob"]) await page.getByText(text).first().waitFor({ state: "attached", timeout: 20_000 });
    // Bob sees converse's occupant arrive under its nick
    await bob.waitFor((el) => el.is("presence") && String(el.attrs.from).startsWith(`${ROOM}/`) && el.attrs.from !== `${ROOM}/bob` && el.attrs.type !== "unavailable", 10_000);
  }, 70_000);

  it("chats one-to-one with a user on another client, both ways", async () => {
    await page.evaluate(async () => {
      const chat = await (globalThis as any).sb.chats.open("conv-bob@localhost");
      await chat.sendMessage({ body: "hello bob, from converse" });
    });
    const got = await bob.waitFor((el) => el.is("message") && el.getChildText("body") === "hello bob, from converse", 20_000);
    expect(String(got.attrs.from)).toMatch(/^conv-alice@localhost\/.+/);
    await bob.send(xml("message", { to: "conv-alice@localhost", type: "chat", id: "c1" }, xml("body", {}, "hello converse, from bob")));
    await page.waitForFunction(() => (globalThis as any).sbBodies("conv-bob@localhost").includes("hello converse, from bob"), undefined, { timeout: 20_000, polling: 250 });
  }, 50_000);

  it("publishes its OMEMO device list and bundle via PEP (XEP-0163, XEP-0384)", async () => {
    const owner = "conv-alice@localhost";
    const DEVICES = "eu.siacs.conversations.axolotl.devicelist";
    const store = ts.server.host.store.pep;
    const deadline = Date.now() + 30_000;
    let ids: string[] = [];
    while (Date.now() < deadline && ids.length === 0) {
      const [list] = await store.items(owner, DEVICES, 1);
      ids = list ? [...list.xml.matchAll(/<device [^>]*id="(\d+)"/g)].map((m) => m[1]!) : [];
      if (ids.length === 0) await new Promise((r) => setTimeout(r, 250));
    }
    expect(ids.length, "converse published a device list").toBeGreaterThan(0);
    // each device's bundle, readable by anyone (converse publishes it with access_model=open)
    for (const id of ids) {
      const node = `eu.siacs.conversations.axolotl.bundles:${id}`;
      while (Date.now() < deadline && (await store.items(owner, node, 1)).length === 0) await new Promise((r) => setTimeout(r, 250));
      expect((await store.items(owner, node, 1))[0]?.xml, node).toContain("<bundle");
      expect((await store.node(owner, node))?.accessModel).toBe("open");
    }
    expect(pageLog.some((l) => l.includes("Not publishing via PEP"))).toBe(false);
  }, 40_000);
});
