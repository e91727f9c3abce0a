import { afterEach, describe, expect, it, vi } from "vitest";
import type { Element } from "@switchboard/xml";
import { createTestHost, type FakeSession, type TestHost } from "../testing/harness.js";
import { timeModule, timezoneOffset } from "./index.js";

const NS = "urn:xmpp:time";
let t: TestHost;
const savedTz = process.env.TZ;
afterEach(async () => {
  vi.useRealTimers();
  process.env.TZ = savedTz;
  await t?.stop();
});

let n = 0;
async function ask(session: FakeSession, to: string, type = "get"): Promise<Element> {
  const id = `t${++n}`;
  await session.sendAsClient(`<iq type='${type}' id='${id}' to='${to}'><time xmlns='${NS}'/></iq>`);
  return session.waitFor((el) => el.attrs.id === id);
}

const condition = (iq: Element) => iq.getChild("error")?.getChildElements().find((c) => c.name !== "text")?.name;

describe("entity time of the server", () => {
  it("answers the UTC time (XEP-0082, with Z) and the server's offset, and advertises the feature", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(new Date("2024-07-01T10:20:30.456Z"));
    process.env.TZ = "Asia/Kolkata";
    t = await createTestHost([timeModule]);
    const alice = await t.login("alice@localhost/a");
    const iq = await ask(alice, "localhost");
    expect(iq.attrs).toMatchObject({ type: "result", from: "localhost", to: "alice@localhost/a" });
    const time = iq.getChild("time", NS)!;
    expect(time.getChildText("utc")).toBe("2024-07-01T10:20:30.456Z");
    expect(time.getChildText("tzo")).toBe("+05:30");
    expect(t.host.disco.hostFeatures.has(NS)).toBe(true);
  });

  it("reads the offset at each request, so a daylight-saving change shows at once", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    process.env.TZ = "Europe/Paris";
    t = await createTestHost([timeModule]);
    const alice = await t.login("alice@localhost/a");
    vi.setSystemTime(new Date("2024-01-15T12:00:00Z"));
    expect((await ask(alice, "localhost")).getChild("time", NS)!.getChildText("tzo")).toBe("+01:00");
    vi.setSystemTime(new Date("2024-07-15T12:00:00Z"));
    expect((await ask(alice, "localhost")).getChild("time", NS)!.getChildText("tzo")).toBe("+02:00");
  });

  it("leaves a query to a full JID to that client, and refuses a set and a query to an account", async () => {
    t = await createTestHost([timeModule]);
    const alice = await t.login("alice@localhost/a");
    const bob = await t.login("bob@localhost/b");
    await alice.sendAsClient(`<iq type='get' id='full1' to='bob@localhost/b'><time xmlns='${NS}'/></iq>`);
    const forwarded = await bob.waitFor((el) => el.attrs.id === "full1");
    expect(forwarded.attrs).toMatchObject({ type: "get", from: "alice@localhost/a" });
    expect(alice.sent.find((el) => el.attrs.id === "full1")).toBeUndefined();
    expect(condition(await ask(alice, "localhost", "set"))).toBe("service-unavailable");
    expect(condition(await ask(alice, "bob@localhost"))).toBe("service-unavailable");
  });
});

describe("timezoneOffset", () => {
  const at = (offsetMinutes: number) => ({ getTimezoneOffset: () => offsetMinutes }) as Date;

  it("formats UTC as +00:00, east of Greenwich with +, west with -, and half hours", () => {
    expect(timezoneOffset(at(0))).toBe("+00:00");
    expect(timezoneOffset(at(-120))).toBe("+02:00");
    expect(timezoneOffset(at(300))).toBe("-05:00");
    expect(timezoneOffset(at(-345))).toBe("+05:45");
    expect(timezoneOffset(at(570))).toBe("-09:30");
  });
});
