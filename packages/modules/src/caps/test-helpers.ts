/** Unit-test helpers for entity capabilities: a fake client that announces caps and answers for them. */
import { createHash } from "node:crypto";
import type { Element } from "@switchboard/xml";
import type { FakeSession } from "../testing/harness.js";

export const DISCO = "http://jabber.org/protocol/disco#info";

/** XEP-0115 §5.1 for the identity client/pc//Test and plain features, computed here on its own. */
export function verOf(features: string[]): string {
  return createHash("sha1").update(`client/pc//Test<${[...features].sort().map((f) => `${f}<`).join("")}`).digest("base64");
}

/**
 * Sends available presence claiming the caps of `features` (or `claimed`), and answers the
 * server's disco#info query with `features` if one comes within `waitMs`. Resolves whether it was asked.
 */
export async function announce(s: FakeSession, features: string[], opts: { claimed?: string; waitMs?: number } = {}): Promise<boolean> {
  await s.sendAsClient(`<presence><c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='n' ver='${opts.claimed ?? verOf(features)}'/></presence>`);
  const q = await s.waitFor((el: Element) => el.name === "iq" && el.getChild("query", DISCO) !== undefined, opts.waitMs ?? 300).catch(() => undefined);
  if (!q) return false;
  s.take((el) => el === q);
  await s.sendAsClient(
    `<iq type='result' id='${q.attrs.id}' to='${q.attrs.from}'><query xmlns='${DISCO}' node='${q.getChild("query")!.attrs.node}'><identity category='client' type='pc' name='Test'/>${features.map((f) => `<feature var='${f}'/>`).join("")}</query></iq>`,
  );
  await new Promise((r) => setTimeout(r, 20));
  return true;
}
