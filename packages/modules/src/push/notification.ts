/**
 * XEP-0357 §7: the notification a user's server publishes to the app server, and how a publish
 * is recognised when the app server answers. The IQ comes from the user's bare JID (§7 example,
 * as Prosody's mod_cloud_notify and ejabberd's mod_push send it); its id carries the node it was
 * for, so any node of the cluster can act on the answer without keeping state.
 */
import { Element, parseFrame, x } from "@switchboard/xml";
import type { PushRegistration } from "@switchboard/core";
import { NS_DATA, NS_PUSH } from "./registration.js";

export const NS_PUBSUB = "http://jabber.org/protocol/pubsub";
export const SUMMARY = "urn:xmpp:push:summary";
const ID_PREFIX = "push-";

export interface Summary {
  messageCount: number;
  lastSender: string;
  /** only with push.includeBody */
  lastBody?: string;
}

const field = (name: string, value: string) => x("field", { var: name }, x("value", {}, value));

export function notificationIq(owner: string, reg: PushRegistration, summary: Summary, seq: number): Element {
  const form = x(
    "x",
    { xmlns: NS_DATA, type: "form" },
    field("FORM_TYPE", SUMMARY),
    field("message-count", String(summary.messageCount)),
    field("last-message-sender", summary.lastSender),
    summary.lastBody !== undefined ? field("last-message-body", summary.lastBody) : undefined,
  );
  const pubsub = x("pubsub", { xmlns: NS_PUBSUB }, x("publish", { node: reg.node }, x("item", {}, x("notification", { xmlns: NS_PUSH }, form))));
  // §5: the publish-options the client gave go with every notification.
  if (reg.form) pubsub.cnode(x("publish-options", {}, parseFrame(reg.form)));
  return x("iq", { type: "set", from: owner, to: reg.jid, id: `${ID_PREFIX}${seq.toString(36)}-${Buffer.from(reg.node).toString("base64url")}` }, pubsub);
}

/** The node a push publish's answer is about, or undefined when the id is not one of ours. */
export function nodeOfAnswer(id: string | undefined): string | undefined {
  if (!id?.startsWith(ID_PREFIX)) return undefined;
  const dash = id.indexOf("-", ID_PREFIX.length);
  if (dash < 0) return undefined;
  const node = Buffer.from(id.slice(dash + 1), "base64url").toString();
  return node === "" ? undefined : node;
}

/**
 * §7.1 (and XEP-0060 §7.1.3): an error of type cancel or auth is permanent — the node is gone,
 * the user is not allowed — so the registration is removed; wait and modify may pass.
 */
export function isPermanent(error: Element): boolean {
  const type = error.getChild("error")?.attrs.type;
  return type === "cancel" || type === "auth";
}
