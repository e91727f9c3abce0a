import { describe, expect, it } from "vitest";
import { serialize, x } from "./element.js";
import { DEFAULT_ERROR_TYPE, StanzaError, StreamError, errorReply, isStanza } from "./errors.js";
import { NS_STANZAS, NS_STREAM, NS_STREAMS } from "./ns.js";

describe("StanzaError", () => {
  it("defaults the type from RFC 6120 §8.3.3", () => {
    expect(new StanzaError("item-not-found").type).toBe("cancel");
    expect(new StanzaError("not-authorized").type).toBe("auth");
    expect(new StanzaError("bad-request").type).toBe("modify");
    expect(new StanzaError("resource-constraint").type).toBe("wait");
    expect(new StanzaError("bad-request", undefined, "cancel").type).toBe("cancel");
    expect(Object.keys(DEFAULT_ERROR_TYPE)).toHaveLength(22);
  });

  it("is a typed Error with name, text and cause", () => {
    const cause = new Error("db down");
    const err = new StanzaError("internal-server-error", "try later", undefined, { cause });
    expect(err).toBeInstanceOf(Error);
    expect(err.name).toBe("StanzaError");
    expect(err.text).toBe("try later");
    expect(err.cause).toBe(cause);
    expect(err.message).toContain("internal-server-error");
  });

  it("renders an application-specific condition after the text (RFC 6120 §8.3.2)", () => {
    const app = x("payload-too-big", { xmlns: "http://jabber.org/protocol/pubsub#errors" });
    expect(serialize(new StanzaError("not-acceptable", "too big", undefined, { appCondition: app }).toElement())).toBe(
      `<error type="modify"><not-acceptable xmlns="${NS_STANZAS}"/><text xmlns="${NS_STANZAS}">too big</text><payload-too-big xmlns="http://jabber.org/protocol/pubsub#errors"/></error>`,
    );
  });

  it("renders <error/> with the condition and optional text", () => {
    expect(serialize(new StanzaError("forbidden").toElement())).toBe(
      `<error type="auth"><forbidden xmlns="${NS_STANZAS}"/></error>`,
    );
    expect(serialize(new StanzaError("conflict", "taken").toElement())).toBe(
      `<error type="cancel"><conflict xmlns="${NS_STANZAS}"/><text xmlns="${NS_STANZAS}">taken</text></error>`,
    );
    const gone = new StanzaError("gone", undefined, undefined, { conditionText: "xmpp:new@example.net" });
    expect(gone.toElement().getChildText("gone")).toBe("xmpp:new@example.net");
  });
});

describe("errorReply", () => {
  it("swaps addresses, keeps the id, and for IQ drops the payload", () => {
    const iq = x("iq", { from: "a@b/c", to: "b", id: "q1", type: "get" }, x("query", { xmlns: "jabber:iq:version" }));
    const reply = errorReply(iq, "service-unavailable");
    expect(reply.attrs).toMatchObject({ to: "a@b/c", from: "b", id: "q1", type: "error" });
    expect(reply.getChild("query")).toBeUndefined();
    expect(reply.getChild("error")?.attrs.type).toBe("cancel");
    expect(reply.getChild("error")?.getChild("service-unavailable", NS_STANZAS)).toBeDefined();
  });

  it("omits from/to/id when the original lacks them", () => {
    const reply = errorReply(x("iq", { type: "set" }), "bad-request");
    expect(reply.attrs).toEqual({ type: "error" });
  });

  it("copies the original payload for message and presence without aliasing it", () => {
    const msg = x("message", { from: "a@b/c", to: "d@e", type: "chat" }, x("body", null, "hi"));
    const reply = errorReply(msg, "recipient-unavailable", "gone fishing", "wait");
    expect(reply.getChildText("body")).toBe("hi");
    expect(reply.getChild("body")).not.toBe(msg.getChild("body"));
    expect(msg.getChild("body")?.parent).toBe(msg);
    const error = reply.getChild("error");
    expect(error?.attrs.type).toBe("wait");
    expect(error?.getChildText("text", NS_STANZAS)).toBe("gone fishing");
    expect(reply.attrs.type).toBe("error");
  });
});

describe("StreamError", () => {
  it("renders <stream:error/> with the streams namespace and text", () => {
    const err = new StreamError("policy-violation", "stanza exceeds 10 bytes");
    expect(err.name).toBe("StreamError");
    const el = err.toElement();
    expect(el.name).toBe("stream:error");
    expect(el.getNS()).toBe(NS_STREAM);
    expect(el.getChild("policy-violation", NS_STREAMS)).toBeDefined();
    expect(el.getChildText("text", NS_STREAMS)).toBe("stanza exceeds 10 bytes");
  });

  it("carries the host for see-other-host", () => {
    const el = new StreamError("see-other-host", undefined, { conditionText: "edge2.example:5222" }).toElement();
    expect(el.getChildText("see-other-host")).toBe("edge2.example:5222");
    expect(el.getChild("text")).toBeUndefined();
  });
});

describe("isStanza", () => {
  it("accepts message, presence, iq only", () => {
    expect(["message", "presence", "iq", "stream:features", "auth"].map((n) => isStanza(x(n)))).toEqual([
      true,
      true,
      true,
      false,
      false,
    ]);
  });
});
