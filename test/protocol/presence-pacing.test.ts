/**
 * Presence broadcasts paced per session (limits.presencePerSecond, default 1, burst
 * limits.presenceBurst, default 5) through real clients: a resource flooding status changes
 * reaches the user's other resource (RFC 6121 §4.2.2: a user's own resources get its
 * broadcasts) with the burst at once and then only the latest, never every change.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, xml, type Element } from "../support/client.js";
import { startTestServer, type TestServer } from "../support/server.js";

let ts: TestServer;

beforeAll(async () => {
  ts = await startTestServer();
  await ts.addUser("flapper");
});
afterAll(async () => ts?.stop());

describe("presence pacing", () => {
  it("coalesces a flood of status changes with the defaults: the burst, then the latest", async () => {
    const phone = await connect(ts, "flapper", { resource: "phone" });
    const laptop = await connect(ts, "flapper", { resource: "laptop" });
    await phone.send(xml("presence"));
    await laptop.send(xml("presence"));
    const fromLaptop = (el: Element) => el.is("presence") && el.attrs.from === laptop.jid && el.attrs.type === undefined;
    await phone.waitFor(fromLaptop);
    const since = phone.received.length;
    for (let i = 1; i <= 30; i++) await laptop.send(xml("presence", {}, xml("status", {}, `s${i}`)));
    await phone.waitFor((el) => fromLaptop(el) && el.getChildText("status") === "s30", 5_000);
    const seen = phone.received.slice(since).filter(fromLaptop).map((el) => el.getChildText("status"));
    expect(seen.length).toBeLessThanOrEqual(7);
    expect(seen.at(-1)).toBe("s30");
    await Promise.all([phone.stop(), laptop.stop()]);
  });
});
