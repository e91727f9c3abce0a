/**
 * XEP-0398 in both modes: an avatar published with XEP-0084 (data node open, then metadata)
 * becomes the PHOTO of the account's vCard, its SHA-1 goes into the account's available
 * presence as XEP-0153's `vcard-temp:x:update` hash (a contact sees it, also on the other edge;
 * a client's own hash or empty <photo/> is left alone), and metadata without <info/> takes the
 * photo out again. An image whose hash does not match its id, or whose data node is not open,
 * is not copied.
 */
import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, xml, type TestClient, type Element } from "../support/client.js";
import { startTestServer, type TestServer } from "../support/server.js";
import { NS_DISCO_INFO, befriend, publishIq } from "../support/pep.js";

const NS_DATA = "urn:xmpp:avatar:data";
const NS_METADATA = "urn:xmpp:avatar:metadata";
const NS_UPDATE = "vcard-temp:x:update";
const OPEN = { "pubsub#access_model": "open" };
/** a 1×1 PNG */
const PNG = Buffer.from("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==", "base64");
const sha1 = (b: Buffer) => createHash("sha1").update(b).digest("hex");

let ts: TestServer;
const open: TestClient[] = [];
async function login(user: string, resource: string): Promise<TestClient> {
  const c = await connect(ts, user, { resource });
  open.push(c);
  return c;
}

beforeAll(async () => {
  ts = await startTestServer();
  for (const u of ["alice", "bob", "carol"]) await ts.addUser(u);
});
afterAll(async () => {
  for (const c of open) await c.stop();
  await ts?.stop();
});

const vcardOf = async (c: TestClient, jid: string): Promise<Element> => (await c.iq(xml("iq", { type: "get", to: jid }, xml("vCard", { xmlns: "vcard-temp" })))).getChild("vCard", "vcard-temp")!;
const metadata = (id: string, bytes: number, type = "image/png") => xml("metadata", { xmlns: NS_METADATA }, xml("info", { id, bytes: String(bytes), type, width: "1", height: "1" }));
const hashIn = (p: Element) => p.getChild("x", NS_UPDATE)?.getChildText("photo");
const availableFrom = (jid: string) => (el: Element) => el.is("presence") && el.attrs.from === jid && el.attrs.type === undefined;

async function publishAvatar(c: TestClient, image: Buffer, id = sha1(image), dataOptions: Record<string, string> = OPEN): Promise<void> {
  await c.iq(publishIq(NS_DATA, xml("data", { xmlns: NS_DATA }, image.toString("base64")), { id, options: dataOptions }));
  await c.iq(publishIq(NS_METADATA, metadata(id, image.length), { id }));
}

describe("XEP-0398 avatar conversion", () => {
  it("is advertised on the account", async () => {
    const alice = await login("alice", "disco");
    const info = await alice.iq(xml("iq", { type: "get", to: "alice@localhost" }, xml("query", { xmlns: NS_DISCO_INFO })));
    expect(info.getChild("query")!.getChildren("feature").map((f) => f.attrs.var)).toContain("urn:xmpp:pep-vcard-conversion:0");
  });

  it("copies a published avatar into the vCard, puts its hash in presence, and takes it out when disabled", async () => {
    const alice = await login("alice", "a");
    const bob = await login("bob", "b");
    await befriend(alice, bob);
    // vCard fields of its own are kept beside the photo
    await alice.iq(xml("iq", { type: "set" }, xml("vCard", { xmlns: "vcard-temp" }, xml("FN", {}, "Alice"))));
    await publishAvatar(alice, PNG);

    const card = await vcardOf(bob, "alice@localhost");
    expect(card.getChildText("FN")).toBe("Alice");
    expect(card.getChild("PHOTO")?.getChildText("TYPE")).toBe("image/png");
    expect(Buffer.from(card.getChild("PHOTO")!.getChildText("BINVAL")!, "base64").equals(PNG)).toBe(true);

    // presence without an update element, and with one without a photo: the hash is added
    await alice.send(xml("presence", {}, xml("status", {}, "one")));
    const first = await bob.waitFor((el) => availableFrom("alice@localhost/a")(el) && el.getChildText("status") === "one");
    expect(hashIn(first)).toBe(sha1(PNG));
    expect(first.getChildText("status")).toBe("one");
    await alice.send(xml("presence", {}, xml("status", {}, "two"), xml("x", { xmlns: NS_UPDATE })));
    const second = await bob.waitFor((el) => availableFrom("alice@localhost/a")(el) && el.getChildText("status") === "two");
    expect(second.getChildren("x").filter((e) => e.attrs.xmlns === NS_UPDATE)).toHaveLength(1);
    expect(hashIn(second)).toBe(sha1(PNG));
    // a client's own photo element is left alone; an empty one says "no avatar"
    await alice.send(xml("presence", {}, xml("status", {}, "three"), xml("x", { xmlns: NS_UPDATE }, xml("photo"))));
    const third = await bob.waitFor((el) => availableFrom("alice@localhost/a")(el) && el.getChildText("status") === "three");
    expect(hashIn(third)).toBe("");

    // XEP-0084 §3.5: metadata without <info/> disables the avatar
    await alice.iq(publishIq(NS_METADATA, xml("metadata", { xmlns: NS_METADATA }), { id: "off" }));
    const after = await vcardOf(bob, "alice@localhost");
    expect(after.getChild("PHOTO")).toBeUndefined();
    expect(after.getChildText("FN")).toBe("Alice");
    await alice.send(xml("presence", {}, xml("status", {}, "four")));
    const fourth = await bob.waitFor((el) => availableFrom("alice@localhost/a")(el) && el.getChildText("status") === "four");
    expect(hashIn(fourth)).toBe("");
  });

  it("copies nothing whose SHA-1 does not match its id, or whose data node is not open", async () => {
    const carol = await login("carol", "c");
    await publishAvatar(carol, PNG, "0".repeat(40));
    expect((await vcardOf(carol, "carol@localhost")).getChild("PHOTO")).toBeUndefined();
    await carol.iq(xml("iq", { type: "set", id: "del" }, xml("pubsub", { xmlns: "http://jabber.org/protocol/pubsub#owner" }, xml("delete", { node: NS_DATA }))));
    await publishAvatar(carol, PNG, sha1(PNG), { "pubsub#access_model": "presence" });
    expect((await vcardOf(carol, "carol@localhost")).getChild("PHOTO")).toBeUndefined();
  });
});
