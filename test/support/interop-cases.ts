/**
 * The federation interop cases, the same against every remote server (Prosody, ejabberd):
 * messages both ways, subscriptions and presence both ways, a message to a user the remote
 * does not have coming back as an error. `ours`/`theirs` log a user in on either side.
 */
import { expect, it } from "vitest";
import { xml, type Element, type TestClient } from "./client.js";
import { createInstant, join } from "./muc.js";

export interface InteropSides {
  /** our domain and the remote's */
  ourDomain: string;
  theirDomain: string;
  ours(local: string, resource: string): Promise<TestClient>;
  theirs(local: string): Promise<TestClient>;
  /** users: ours[i] talks to theirs[i] */
  ourUsers: readonly [string, string, string, string];
  theirUsers: readonly [string, string, string, string];
}

const isChat = (body: string) => (el: Element) => el.is("message") && el.getChildText("body") === body;
const presenceFrom = (from: string, type?: string) => (el: Element) => el.is("presence") && el.attrs.from === from && el.attrs.type === type;

async function online(client: TestClient): Promise<TestClient> {
  await client.iq(xml("iq", { type: "get" }, xml("query", { xmlns: "jabber:iq:roster" })));
  await client.send(xml("presence"));
  return client;
}

export function interopCases(sides: () => InteropSides): void {
  it("carries messages both ways", async () => {
    const s = sides();
    const [me, them] = [s.ourUsers[0], s.theirUsers[0]];
    const ours = await online(await s.ours(me, "s"));
    const theirs = await online(await s.theirs(them));
    await ours.send(xml("message", { to: `${them}@${s.theirDomain}`, type: "chat" }, xml("body", {}, "hi over there")));
    expect((await theirs.waitFor(isChat("hi over there"), 20_000)).attrs.from).toBe(`${me}@${s.ourDomain}/s`);
    await theirs.send(xml("message", { to: `${me}@${s.ourDomain}/s`, type: "chat" }, xml("body", {}, "hi switchboard")));
    expect((await ours.waitFor(isChat("hi switchboard"), 20_000)).attrs.from).toBe(theirs.jid);
    await Promise.all([ours.stop(), theirs.stop()]);
  });

  it("subscribes and exchanges presence both ways", async () => {
    const s = sides();
    const [me, them] = [s.ourUsers[1], s.theirUsers[1]];
    const meBare = `${me}@${s.ourDomain}`;
    const themBare = `${them}@${s.theirDomain}`;
    const ours = await online(await s.ours(me, "t"));
    const theirs = await online(await s.theirs(them));
    // ours → theirs
    await ours.send(xml("presence", { to: themBare, type: "subscribe" }));
    await theirs.waitFor(presenceFrom(meBare, "subscribe"), 20_000);
    await theirs.send(xml("presence", { to: meBare, type: "subscribed" }));
    await ours.waitFor(presenceFrom(themBare, "subscribed"), 20_000);
    await ours.waitFor(presenceFrom(theirs.jid), 20_000);
    // theirs → ours
    await theirs.send(xml("presence", { to: meBare, type: "subscribe" }));
    await ours.waitFor(presenceFrom(themBare, "subscribe"), 20_000);
    await ours.send(xml("presence", { to: themBare, type: "subscribed" }));
    await theirs.waitFor(presenceFrom(`${meBare}/t`), 20_000);
    // a status change reaches the other side; a logout is seen
    await ours.send(xml("presence", {}, xml("show", {}, "away")));
    await theirs.waitFor((el) => presenceFrom(`${meBare}/t`)(el) && el.getChildText("show") === "away", 20_000);
    const theirJid = theirs.jid;
    await theirs.stop();
    await ours.waitFor(presenceFrom(theirJid, "unavailable"), 20_000);
    await ours.stop();
  });

  it("returns an error for a user the remote does not have", async () => {
    const s = sides();
    const ours = await online(await s.ours(s.ourUsers[2], "u"));
    await ours.send(xml("message", { to: `nobody@${s.theirDomain}`, type: "chat", id: "lost" }, xml("body", {}, "anyone?")));
    const error = await ours.waitFor((el) => el.is("message") && el.attrs.id === "lost", 20_000);
    expect(error.attrs.type).toBe("error");
    expect(error.attrs.from).toBe(`nobody@${s.theirDomain}`);
    expect(error.getChild("error")?.getChild("service-unavailable")).toBeDefined();
    await ours.stop();
  });

  it("lets a user of theirs join a room here and talk in it", async () => {
    const s = sides();
    const [me, them] = [s.ourUsers[3], s.theirUsers[3]];
    const room = `interop@conference.${s.ourDomain}`;
    const ours = await s.ours(me, "m");
    expect((await createInstant(ours, room, me)).attrs.type).toBeUndefined();
    const theirs = await s.theirs(them);
    expect((await join(theirs, room, them, [], 20_000)).attrs.type).toBeUndefined();
    await theirs.send(xml("message", { to: room, type: "groupchat" }, xml("body", {}, "hello from afar")));
    const heard = await ours.waitFor((el) => el.is("message") && el.attrs.type === "groupchat" && el.getChildText("body") === "hello from afar", 20_000);
    expect(heard.attrs.from).toBe(`${room}/${them}`);
    await ours.send(xml("message", { to: room, type: "groupchat" }, xml("body", {}, "welcome in")));
    await theirs.waitFor((el) => el.is("message") && el.attrs.from === `${room}/${me}` && el.getChildText("body") === "welcome in", 20_000);
    await Promise.all([ours.stop(), theirs.stop()]);
  });

  it("lets a user of ours join a room over there and talk in it", async () => {
    const s = sides();
    const [me, them] = [s.ourUsers[3], s.theirUsers[3]];
    const room = `faraway@conference.${s.theirDomain}`;
    const theirs = await s.theirs(them);
    expect((await createInstant(theirs, room, them)).attrs.type).toBeUndefined();
    const ours = await s.ours(me, "r");
    expect((await join(ours, room, me, [], 20_000)).attrs.type).toBeUndefined();
    await ours.send(xml("message", { to: room, type: "groupchat" }, xml("body", {}, "hello over there")));
    await theirs.waitFor((el) => el.is("message") && el.attrs.from === `${room}/${me}` && el.getChildText("body") === "hello over there", 20_000);
    await theirs.send(xml("message", { to: room, type: "groupchat" }, xml("body", {}, "hi visitor")));
    await ours.waitFor((el) => el.is("message") && el.attrs.from === `${room}/${them}` && el.getChildText("body") === "hi visitor", 20_000);
    await Promise.all([ours.stop(), theirs.stop()]);
  });
}
