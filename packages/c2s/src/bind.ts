/**
 * Resource binding (RFC 6120 §7). A client-proposed resource is accepted when valid; none means
 * the server picks one. A resource already bound is taken over by the new stream and the old
 * one gets <conflict/> (RFC 6120 §7.7.2.2, the "override" policy ejabberd and Prosody default to).
 */
import { randomBytes } from "node:crypto";
import { Element, Jid, NS_BIND, StreamError, errorReply, tryParseJid, x } from "@switchboard/xml";
import { iqResult, type Host, type LocalSession } from "@switchboard/core";

export interface BindResult {
  jid?: Jid;
  reply: Element;
}

export async function bindResource(host: Host, session: LocalSession, username: string, iq: Element, bind: Element): Promise<BindResult> {
  const asked = bind.getChildText("resource")?.trim();
  const resource = asked ? asked : `sb-${randomBytes(6).toString("hex")}`;
  const jid = tryParseJid(`${username}@${host.domain}/${resource}`);
  if (!jid || jid.resource !== resource.normalize("NFC")) {
    return { reply: strip(errorReply(iq, "bad-request", "the requested resource is not a valid JID resourcepart", "modify")) };
  }
  const previous = await host.registry.bind({
    jid: jid.full,
    sessionId: session.id,
    nodeId: host.nodeId,
    priority: 0,
    available: false,
    interested: false,
    since: Date.now(),
  });
  if (previous && previous.sessionId !== session.id) {
    const conflict = new StreamError("conflict", "replaced by a new connection for the same resource");
    if (previous.nodeId === host.nodeId) host.sessions.get(previous.sessionId)?.close(conflict);
    else await host.bus.publish(previous.nodeId, { to: previous.jid, sessionId: previous.sessionId, xml: "", headers: { control: "conflict" } });
  }
  const reply = strip(iqResult(iq, x("bind", { xmlns: NS_BIND }, x("jid", {}, jid.full))));
  return { jid, reply };
}

function strip(el: Element): Element {
  delete el.attrs.to;
  delete el.attrs.from;
  return el;
}
