/**
 * Resource binding (RFC 6120 §7). A client-proposed resource is accepted when valid; none means
 * the server picks one. A resource already bound is taken over by the new stream and the old
 * one gets <conflict/> (RFC 6120 §7.7.2.2, the "override" policy ejabberd and Prosody default to).
 */
import { randomBytes } from "node:crypto";
import { Element, Jid, NS_BIND, StreamError, errorReply, tryParseJid, x } from "@switchboard/xml";
import { freshSessionInfo, iqResult, type Host, type LocalSession } from "@switchboard/core";

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
  let previous: Awaited<ReturnType<typeof host.registry.bind>>;
  try {
    previous = await host.registry.bind(freshSessionInfo(jid.full, session.id, host.nodeId));
  } catch (err) {
    // Registry unreachable (cluster mode, Redis down): a temporary error, the client retries.
    host.log.warn({ err, jid: jid.full }, "resource binding failed: session registry unavailable");
    return { reply: strip(errorReply(iq, "internal-server-error", "the session registry is temporarily unavailable; try again", "wait")) };
  }
  if (previous && previous.sessionId !== session.id) {
    const conflict = new StreamError("conflict", "replaced by a new connection for the same resource");
    if (previous.nodeId === host.nodeId) host.sessions.get(previous.sessionId)?.close(conflict);
    else {
      // The old stream lives on another node: tell it to close. If that node is unreachable it
      // is dead or fenced, and its streams are closed or purged anyway.
      await host.bus
        .publish(previous.nodeId, { to: previous.jid, sessionId: previous.sessionId, xml: "", headers: { control: "conflict" } })
        .catch((err) => host.log.warn({ err, node: previous.nodeId }, "could not ask a node to close a replaced stream"));
    }
  }
  const reply = strip(iqResult(iq, x("bind", { xmlns: NS_BIND }, x("jid", {}, jid.full))));
  return { jid, reply };
}

function strip(el: Element): Element {
  delete el.attrs.to;
  delete el.attrs.from;
  return el;
}
