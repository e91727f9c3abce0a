/**
 * XEP-0357 §5 (enabling) and §6 (disabling): what a client's `<enable/>` and `<disable/>` may
 * say. `jid` must be a JID (§5 MUST) and `node` non-empty (§5 SHOULD, the §12 schema requires
 * it, and without one there is nothing to publish to); the optional publish-options form (§5,
 * sent with each notification) must be a data form of FORM_TYPE
 * http://jabber.org/protocol/pubsub#publish-options (XEP-0060 §7.1.5) of type 'submit' or, as
 * in §5's own example, without a type (COMPAT). Anything else is `<bad-request/>`.
 */
import { Element, StanzaError, tryParseJid } from "@switchboard/xml";
import type { PushRegistration } from "@switchboard/core";

export const NS_PUSH = "urn:xmpp:push:0";
export const NS_DATA = "jabber:x:data";
export const PUBLISH_OPTIONS = "http://jabber.org/protocol/pubsub#publish-options";

/** the longest node name and form kept (a registration is stored per user, cheaply) */
export const MAX_NODE_LENGTH = 1024;
export const MAX_FORM_BYTES = 4096;
/** registrations one account may hold (one per device and app, normally a handful) */
export const MAX_REGISTRATIONS = 20;

function appServer(el: Element): string {
  const jid = el.attrs.jid ? tryParseJid(el.attrs.jid) : undefined;
  if (!jid) throw new StanzaError("bad-request", "'jid' must be the app server's JID");
  return jid.toString();
}

/** The registration an `<enable/>` asks for (§5). */
export function parseEnable(enable: Element): PushRegistration {
  const jid = appServer(enable);
  const node = enable.attrs.node ?? "";
  if (node === "") throw new StanzaError("bad-request", "'node' is required to enable push (XEP-0357 §5)");
  if (node.length > MAX_NODE_LENGTH) throw new StanzaError("bad-request", `'node' is longer than ${MAX_NODE_LENGTH} characters`);
  const forms = enable.getChildren("x", NS_DATA);
  if (forms.length > 1) throw new StanzaError("bad-request", "at most one publish-options form");
  if (forms.length === 0) return { jid, node };
  const form = forms[0]!;
  if (form.attrs.type !== undefined && form.attrs.type !== "submit") throw new StanzaError("bad-request", "the publish-options form must be of type 'submit'");
  const formType = form.getChildren("field").find((f) => f.attrs.var === "FORM_TYPE")?.getChildText("value");
  if (formType !== PUBLISH_OPTIONS) throw new StanzaError("bad-request", `the form's FORM_TYPE must be ${PUBLISH_OPTIONS}`);
  const xml = form.toString();
  if (Buffer.byteLength(xml) > MAX_FORM_BYTES) throw new StanzaError("bad-request", `the publish-options form is larger than ${MAX_FORM_BYTES} bytes`);
  return { jid, node, form: xml };
}

/** What a `<disable/>` names (§6): one registration, or every one of the app server without a node. */
export function parseDisable(disable: Element): { jid: string; node?: string } {
  const jid = appServer(disable);
  const node = disable.attrs.node;
  return node === undefined || node === "" ? { jid } : { jid, node };
}
