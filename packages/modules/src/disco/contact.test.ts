import { afterEach, describe, expect, it } from "vitest";
import type { Element } from "@switchboard/xml";
import { loadModule } from "@switchboard/core";
import { createTestHost, type TestHost } from "../testing/harness.js";
import { discoModule } from "./index.js";

const INFO = "http://jabber.org/protocol/disco#info";
let t: TestHost;
afterEach(async () => t?.stop());

async function serverInfo(host: TestHost, node?: string): Promise<Element> {
  const alice = await host.login("alice@localhost/a");
  await alice.sendAsClient(`<iq type='get' id='ci' to='localhost'><query xmlns='${INFO}'${node ? ` node='${node}'` : ""}/></iq>`);
  return alice.waitFor((el) => el.attrs.id === "ci");
}

const fieldValues = (form: Element) =>
  Object.fromEntries(form.getChildren("field").map((f) => [f.attrs.var, { type: f.attrs.type, values: f.getChildren("value").map((v) => v.getText()) }]));

describe("contact addresses (XEP-0157)", () => {
  it("adds no form when no address is configured", async () => {
    t = await createTestHost([discoModule]);
    const query = (await serverInfo(t)).getChild("query", INFO)!;
    expect(query.getChild("feature")).toBeDefined();
    expect(query.getChild("x", "jabber:x:data")).toBeUndefined();
  });

  it("publishes a serverinfo form after the features, one list-multi field per non-empty list, in order", async () => {
    t = await createTestHost([
      [
        discoModule,
        {
          contact: {
            support: ["https://example.org/support", "xmpp:support@example.org"],
            abuse: ["mailto:abuse@example.org", "xmpp:abuse@example.org"],
            admin: [],
            status: ["https://status.example.org"],
          },
        },
      ],
    ]);
    const query = (await serverInfo(t)).getChild("query", INFO)!;
    const form = query.getChild("x", "jabber:x:data")!;
    expect(form.attrs.type).toBe("result");
    expect(query.getChildElements().at(-1)).toBe(form);
    expect(form.getChildren("field").map((f) => f.attrs.var)).toEqual(["FORM_TYPE", "abuse-addresses", "status-addresses", "support-addresses"]);
    expect(fieldValues(form)).toEqual({
      FORM_TYPE: { type: "hidden", values: ["http://jabber.org/network/serverinfo"] },
      "abuse-addresses": { type: "list-multi", values: ["mailto:abuse@example.org", "xmpp:abuse@example.org"] },
      "status-addresses": { type: "list-multi", values: ["https://status.example.org"] },
      "support-addresses": { type: "list-multi", values: ["https://example.org/support", "xmpp:support@example.org"] },
    });
  });

  it("maps every option key to its registered field", async () => {
    const keys = ["abuse", "admin", "feedback", "sales", "security", "status", "support"];
    t = await createTestHost([[discoModule, { contact: Object.fromEntries(keys.map((k) => [k, [`mailto:${k}@example.org`]])) }]]);
    const form = (await serverInfo(t)).getChild("query", INFO)!.getChild("x", "jabber:x:data")!;
    const values = fieldValues(form);
    for (const k of keys) expect(values[`${k}-addresses`]?.values).toEqual([`mailto:${k}@example.org`]);
  });

  it("keeps the form off node queries and account info", async () => {
    t = await createTestHost([[discoModule, { contact: { abuse: ["mailto:abuse@example.org"] } }]]);
    const alice = await t.login("alice@localhost/a");
    await alice.sendAsClient(`<iq type='get' id='acc' to='alice@localhost'><query xmlns='${INFO}'/></iq>`);
    expect((await alice.waitFor((el) => el.attrs.id === "acc")).getChild("query", INFO)!.getChild("x")).toBeUndefined();
    expect((await serverInfo(t, "urn:nope")).getChild("error")?.getChild("item-not-found")).toBeDefined();
  });

  it("refuses addresses that are not URIs with a scheme, unknown fields and malformed lists, naming the option", async () => {
    t = await createTestHost([]);
    const bad: Array<[unknown, RegExp]> = [
      [{ abuse: ["abuse@example.org"] }, /disco\.contact\.abuse: "abuse@example\.org" is not a URI/],
      [{ admin: ["mailto:"] }, /disco\.contact\.admin/],
      [{ status: ["https://"] }, /disco\.contact\.status/],
      [{ support: ["https://exa mple.org/"] }, /disco\.contact\.support/],
      [{ security: [42] }, /disco\.contact\.security: 42/],
      [{ sales: "mailto:sales@example.org" }, /disco\.contact\.sales must be a list/],
      [{ press: ["mailto:press@example.org"] }, /disco\.contact\.press is not a contact field \(expected one of abuse, admin/],
      [["mailto:abuse@example.org"], /disco\.contact must be a map/],
    ];
    for (const [contact, message] of bad) {
      await expect(loadModule(t.host, discoModule, { contact: contact as never })).rejects.toThrow(message);
    }
    expect(t.host.disco.hostFeatures.size).toBe(0);
  });
});
