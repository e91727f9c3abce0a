/**
 * Helpers for personal-eventing tests: a client that advertises entity capabilities
 * (XEP-0115) and answers the server's disco#info query for them, mutual presence
 * subscriptions, and pubsub requests (XEP-0060).
 */
import { createHash } from "node:crypto";
import { xml, type Element, type TestClient } from "./client.js";
import type { TestServer } from "./server.js";

export const NS_DISCO_INFO = "http://jabber.org/protocol/disco#info";
export const NS_CAPS = "http://jabber.org/protocol/caps";
export const NS_PUBSUB = "http://jabber.org/protocol/pubsub";
export const NS_PUBSUB_OWNER = "http://jabber.org/protocol/pubsub#owner";
export const NS_PUBSUB_EVENT = "http://jabber.org/protocol/pubsub#event";
export const NS_PUBSUB_ERRORS = "http://jabber.org/protocol/pubsub#errors";
const CAPS_NODE = "https://switchboard.test/client";

/** XEP-0115 §5.1 for one identity (client/pc//Test) and plain features, written out here on its own. */
export function capsVerOf(features: string[]): string {
  const s = `client/pc//Test<${[...features].sort().map((f) => `${f}<`).join("")}`;
  return createHash("sha1").update(s).digest("base64");
}

/**
 * Makes `c` answer disco#info with `features` and sends available presence with their caps (or
 * with `claimedVer` instead, a hash that does not match the answer). Resolves once the server
 * has asked, answered, and cached the hash — or, for a lie, once the server asked.
 */
export async function announceCaps(ts: TestServer, c: TestClient, features: string[], claimedVer?: string): Promise<{ asked: boolean; key: string }> {
  let asked = false;
  // @xmpp/client answers IQs through iqCallee, which its type declarations leave out
  const callee = (c.xmpp as unknown as { iqCallee: { get(ns: string, name: string, handler: (ctx: { element: Element }) => Element): void } }).iqCallee;
  callee.get(NS_DISCO_INFO, "query", (ctx) => {
    asked = true;
    return xml("query", { xmlns: NS_DISCO_INFO, node: ctx.element.attrs.node }, xml("identity", { category: "client", type: "pc", name: "Test" }), ...features.map((f) => xml("feature", { var: f })));
  });
  const ver = claimedVer ?? capsVerOf(features);
  await c.send(xml("presence", {}, xml("c", { xmlns: NS_CAPS, hash: "sha-1", node: CAPS_NODE, ver })));
  const key = `sha-1 ${ver}`;
  const deadline = Date.now() + 5_000;
  while (Date.now() < deadline) {
    if (claimedVer ? asked : await ts.server.host.store.pep.capsGet(key)) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  return { asked, key };
}

/**
 * a and b subscribe to each other's presence (RFC 6121 §3.1), both ways approved. Both send
 * plain available presence first (a request reaches available resources only), so announce
 * caps after this.
 */
export async function befriend(a: TestClient, b: TestClient): Promise<void> {
  const bare = (c: TestClient) => c.jid.split("/")[0]!;
  for (const c of [a, b]) await c.send(xml("presence"));
  for (const [from, to] of [[a, b], [b, a]] as const) {
    await from.send(xml("presence", { to: bare(to), type: "subscribe" }));
    await to.waitFor((el) => el.name === "presence" && el.attrs.type === "subscribe" && el.attrs.from === bare(from));
    await to.send(xml("presence", { to: bare(from), type: "subscribed" }));
    await from.waitFor((el) => el.name === "presence" && el.attrs.type === "subscribed" && el.attrs.from === bare(to));
  }
}

export const pubsubIq = (type: "get" | "set", ns: string, ...children: Element[]) => xml("iq", { type }, xml("pubsub", { xmlns: ns }, ...children));

/** `<publish node><item id?>payload</item></publish>` with optional publish-options fields */
export function publishIq(node: string, payload: Element, opts: { id?: string; options?: Record<string, string>; to?: string } = {}): Element {
  const iq = pubsubIq(
    "set",
    NS_PUBSUB,
    xml("publish", { node }, xml("item", { id: opts.id }, payload)),
    ...(opts.options ? [xml("publish-options", {}, form("http://jabber.org/protocol/pubsub#publish-options", opts.options))] : []),
  );
  if (opts.to) iq.attrs.to = opts.to;
  return iq;
}

export function form(formType: string, fields: Record<string, string>, type = "submit"): Element {
  return xml(
    "x",
    { xmlns: "jabber:x:data", type },
    xml("field", { var: "FORM_TYPE", type: "hidden" }, xml("value", {}, formType)),
    ...Object.entries(fields).map(([v, value]) => xml("field", { var: v }, xml("value", {}, value))),
  );
}

/** The condition and the pubsub#errors application condition of a refused request. */
export async function refusal(request: Promise<unknown>): Promise<{ condition: string; app?: string }> {
  const err = (await request.then(() => undefined, (e: unknown) => e)) as { condition?: string; application?: Element } | undefined;
  return { condition: err?.condition ?? "no error", app: err?.application?.getNS() === NS_PUBSUB_ERRORS ? err.application.name : undefined };
}

/** a headline event from `owner` about `node` */
export const isEvent = (owner: string, node: string) => (el: Element) =>
  el.name === "message" && el.attrs.from === owner && el.getChild("event", NS_PUBSUB_EVENT) !== undefined &&
  el.getChild("event", NS_PUBSUB_EVENT)!.getChildElements().some((c) => c.attrs.node === node);
