/** XEP-0060 namespaces and the pubsub#errors application conditions (§6.1.3, §7.1.3, §8). */
import { StanzaError, x, type StanzaErrorCondition } from "@switchboard/xml";

export const NS_PUBSUB = "http://jabber.org/protocol/pubsub";
export const NS_PUBSUB_OWNER = "http://jabber.org/protocol/pubsub#owner";
export const NS_PUBSUB_EVENT = "http://jabber.org/protocol/pubsub#event";
export const NS_PUBSUB_ERRORS = "http://jabber.org/protocol/pubsub#errors";
export const NS_PUBLISH_OPTIONS = "http://jabber.org/protocol/pubsub#publish-options";
export const NS_NODE_CONFIG = "http://jabber.org/protocol/pubsub#node_config";
export const NS_DATA = "jabber:x:data";

/** A stanza error with XEP-0060's own condition beside the RFC 6120 one (`<feature/>` for unsupported). */
export function pubsubError(condition: StanzaErrorCondition, app: string | undefined, text?: string, feature?: string): StanzaError {
  return new StanzaError(condition, text, undefined, {
    appCondition: app === undefined ? undefined : x(app, { xmlns: NS_PUBSUB_ERRORS, feature }),
  });
}
