/** Shared helpers for the presence unit tests (not part of the module's API). */
import type { Element } from "@switchboard/xml";
import type { RosterItem, Subscription } from "@switchboard/core";
import { createTestHost, type FakeSession, type TestHost } from "../testing/harness.js";
import { rosterModule } from "../roster/index.js";
import { presenceModule } from "./index.js";

export const NS_ROSTER = "jabber:iq:roster";

export function presenceHost(): Promise<TestHost> {
  return createTestHost([rosterModule, presenceModule]);
}

/** Matches presence of the given type (undefined = available) and, optionally, sender. */
export function presence(type: string | undefined, from?: string): (el: Element) => boolean {
  return (el) => el.name === "presence" && el.attrs.type === type && (from === undefined || el.attrs.from === from);
}

export function isPush(el: Element): boolean {
  return el.name === "iq" && el.attrs.type === "set" && el.getChild("query", NS_ROSTER) !== undefined;
}

/** The items of every roster push received (and consumed) so far. */
export function takePushedItems(session: FakeSession): Array<Record<string, string | undefined>> {
  return session.take(isPush).map((p) => ({ ...p.getChild("query", NS_ROSTER)!.getChild("item")!.attrs }));
}

let seq = 0;
export async function rosterGet(session: FakeSession): Promise<Element> {
  const id = `get${++seq}`;
  await session.sendAsClient(`<iq type='get' id='${id}'><query xmlns='${NS_ROSTER}'/></iq>`);
  return session.waitFor((el) => el.attrs.id === id);
}

/** Logs in, requests the roster (interested resource) and sends initial presence. */
export async function goOnline(t: TestHost, jid: string, initialPresence = "<presence/>"): Promise<FakeSession> {
  const session = await t.login(jid);
  await rosterGet(session);
  await session.sendAsClient(initialPresence);
  return session;
}

export function item(jid: string, subscription: Subscription, extra: Partial<RosterItem> = {}): RosterItem {
  return { jid, groups: [], subscription, askOut: false, askIn: false, approved: false, inRoster: true, ...extra };
}

/** Stores a mutual subscription between two local users. */
export async function makeFriends(t: TestHost, a: string, b: string): Promise<void> {
  await t.store.roster.put(a, item(b, "both"));
  await t.store.roster.put(b, item(a, "both"));
}
