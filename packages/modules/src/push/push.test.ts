import { describe, expect, it } from "vitest";
import { StanzaError, parseFrame } from "@switchboard/xml";
import { MAX_FORM_BYTES, parseDisable, parseEnable } from "./registration.js";
import { isPermanent, nodeOfAnswer, notificationIq } from "./notification.js";

const PO = "http://jabber.org/protocol/pubsub#publish-options";
const enable = (attrs: string, inner = "") => parseFrame(`<enable xmlns='urn:xmpp:push:0' ${attrs}>${inner}</enable>`);
const form = (type: string, formType: string, extra = "") =>
  `<x xmlns='jabber:x:data' type='${type}'><field var='FORM_TYPE'><value>${formType}</value></field>${extra}</x>`;

function condition(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof StanzaError) return err.condition;
    throw err;
  }
  return "accepted";
}

describe("XEP-0357 enable and disable", () => {
  it("takes jid, node and a submitted publish-options form, normalising the JID", () => {
    expect(parseEnable(enable("jid='Push.Example.org' node='n1'"))).toEqual({ jid: "push.example.org", node: "n1" });
    const reg = parseEnable(enable("jid='push.example.org' node='n1'", form("submit", PO, "<field var='secret'><value>s</value></field>")));
    expect(reg.form).toContain("<value>s</value>");
    // COMPAT: §5's example form has no type
    const untyped = `<x xmlns='jabber:x:data'><field var='FORM_TYPE'><value>${PO}</value></field></x>`;
    expect(parseEnable(enable("jid='push.example.org' node='n1'", untyped)).form).toBeDefined();
  });

  it("refuses what §5 does not allow with bad-request", () => {
    for (const el of [
      enable("node='n1'"),
      enable("jid='' node='n1'"),
      enable("jid='a@b@c' node='n1'"),
      enable("jid='push.example.org'"),
      enable("jid='push.example.org' node=''"),
      enable(`jid='push.example.org' node='${"n".repeat(1025)}'`),
      enable("jid='push.example.org' node='n1'", form("form", PO)),
      enable("jid='push.example.org' node='n1'", form("submit", "urn:other")),
      enable("jid='push.example.org' node='n1'", `<x xmlns='jabber:x:data' type='submit'/>`),
      enable("jid='push.example.org' node='n1'", form("submit", PO) + form("submit", PO)),
      enable("jid='push.example.org' node='n1'", form("submit", PO, `<field var='big'><value>${"v".repeat(MAX_FORM_BYTES)}</value></field>`)),
    ]) {
      expect(condition(() => parseEnable(el))).toBe("bad-request");
    }
  });

  it("disables one node, or every node of the app server without one; a JID is required", () => {
    expect(parseDisable(parseFrame("<disable xmlns='urn:xmpp:push:0' jid='push.example.org' node='n1'/>"))).toEqual({ jid: "push.example.org", node: "n1" });
    expect(parseDisable(parseFrame("<disable xmlns='urn:xmpp:push:0' jid='push.example.org'/>"))).toEqual({ jid: "push.example.org" });
    expect(condition(() => parseDisable(parseFrame("<disable xmlns='urn:xmpp:push:0'/>")))).toBe("bad-request");
  });
});

describe("XEP-0357 notifications", () => {
  it("carries the node in the id, so any node can act on the answer", () => {
    const iq = notificationIq("u@example.org", { jid: "push.example.org", node: "dev/ü 1" }, { messageCount: 2, lastSender: "s@example.org/r" }, 7);
    expect(nodeOfAnswer(iq.attrs.id)).toBe("dev/ü 1");
    expect(nodeOfAnswer("push-7")).toBeUndefined();
    expect(nodeOfAnswer("other-1-ZGV2")).toBeUndefined();
    expect(nodeOfAnswer(undefined)).toBeUndefined();
  });

  it("puts the body in only when given, and the publish-options form when registered", () => {
    const plain = notificationIq("u@example.org", { jid: "p", node: "n" }, { messageCount: 1, lastSender: "s@example.org" }, 1);
    expect(plain.toString()).not.toContain("last-message-body");
    expect(plain.getChild("pubsub")!.getChild("publish-options")).toBeUndefined();
    const full = notificationIq("u@example.org", { jid: "p", node: "n", form: form("submit", PO) }, { messageCount: 1, lastSender: "s", lastBody: "<hi>" }, 2);
    expect(full.toString()).toContain("&lt;hi&gt;");
    expect(full.getChild("pubsub")!.getChild("publish-options")!.getChild("x", "jabber:x:data")).toBeDefined();
  });

  it("takes cancel and auth errors as permanent, wait and modify as passing", () => {
    const error = (type: string) => parseFrame(`<iq type='error' id='x'><error type='${type}'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>`);
    expect(isPermanent(error("cancel"))).toBe(true);
    expect(isPermanent(error("auth"))).toBe(true);
    expect(isPermanent(error("wait"))).toBe(false);
    expect(isPermanent(error("modify"))).toBe(false);
    expect(isPermanent(parseFrame("<iq type='error' id='x'/>"))).toBe(false);
  });
});
