/**
 * What the MUC tests share: the XEP-0045 namespaces and the steps every one of them takes with
 * @xmpp/client (enter a room and wait for the answer, make an instant room, submit a form,
 * read an error's condition).
 */
import { xml, type Element, type TestClient } from "./client.js";

export const MUC = "http://jabber.org/protocol/muc";
export const MUC_USER = "http://jabber.org/protocol/muc#user";
export const MUC_ADMIN = "http://jabber.org/protocol/muc#admin";
export const MUC_OWNER = "http://jabber.org/protocol/muc#owner";
export const DATA = "jabber:x:data";
export const SERVICE = "conference.localhost";

/** The status codes in a room's `<x xmlns='…muc#user'/>`. */
export const statusCodes = (p: Element): string[] => (p.getChild("x", MUC_USER)?.getChildren("status") ?? []).map((s) => String(s.attrs.code));

/** The defined condition of a stanza error, if any. */
export const conditionOf = (el: Element): string | undefined =>
  (el.getChild("error")?.children.find((c) => typeof c !== "string" && (c as Element).attrs.xmlns === "urn:ietf:params:xml:ns:xmpp-stanzas") as Element | undefined)?.name;

/** The condition an IQ request was refused with, or "no error". */
export async function refusal(request: Promise<unknown>): Promise<string> {
  const err = (await request.then(() => undefined, (e: unknown) => e)) as { condition?: string } | undefined;
  return err?.condition ?? "no error";
}

/** Enters room/nick and resolves with the answer that arrives after: the self-presence (110) or an error. */
export async function join(c: TestClient, room: string, nick: string, extra: Element[] = [], timeoutMs = 5_000): Promise<Element> {
  const from = `${room}/${nick}`;
  const since = c.received.length;
  await c.send(xml("presence", { to: from }, xml("x", { xmlns: MUC }, ...extra)));
  return c.waitFor((el) => c.received.indexOf(el) >= since && el.is("presence") && el.attrs.from === from && (el.attrs.type === "error" || statusCodes(el).includes("110")), timeoutMs);
}

/** Leaves room/nick and waits for the room's goodbye. */
export async function leave(c: TestClient, room: string, nick: string): Promise<void> {
  const from = `${room}/${nick}`;
  const since = c.received.length;
  await c.send(xml("presence", { to: from, type: "unavailable" }));
  await c.waitFor((el) => c.received.indexOf(el) >= since && el.is("presence") && el.attrs.from === from && el.attrs.type === "unavailable");
}

/** A submitted data form with these fields (each one value, or several). */
export function form(fields: Record<string, string | string[]> = {}, formType?: string): Element {
  const all = formType ? { FORM_TYPE: formType, ...fields } : fields;
  return xml(
    "x",
    { xmlns: DATA, type: "submit" },
    ...Object.entries(all).map(([v, value]) => xml("field", { var: v }, ...(Array.isArray(value) ? value : [value]).map((one) => xml("value", {}, one)))),
  );
}

/** The owner's configuration request (XEP-0045 §10.2): an empty form makes an instant room. */
export function configure(c: TestClient, room: string, fields: Record<string, string | string[]> = {}): Promise<Element> {
  return c.iq(xml("iq", { type: "set", to: room }, xml("query", { xmlns: MUC_OWNER }, form(fields))));
}

/** Creates an instant room (§10.1.2) and resolves with the creator's self-presence (or the error). */
export async function createInstant(c: TestClient, room: string, nick: string): Promise<Element> {
  const self = await join(c, room, nick);
  if (self.attrs.type !== "error") await configure(c, room);
  return self;
}
