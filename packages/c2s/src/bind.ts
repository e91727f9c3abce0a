/**
 * Resource binding (RFC 6120 §7). A client-proposed resource is accepted when valid; none means
 * the server picks one. The session table (core) binds it in the registry; a resource already
 * bound is taken over by the new stream and the old one gets <conflict/> (RFC 6120 §7.7.2.2, the
 * "override" policy ejabberd and Prosody default to).
 */
import { randomBytes } from "node:crypto";
import { Element, NS_BIND, errorReply, tryParseJid, x } from "@switchboard/xml";
import { SessionLimitError, iqResult, type Host, type Session, type SessionConnection } from "@switchboard/core";

/**
 * Binds a resource for `connection`. On success `onBound` gets the session and the result to
 * send, before modules hear of the session (so the client reads "bound" first), and this
 * resolves undefined; otherwise it resolves the error reply to send.
 */
export async function bindResource(
  host: Host,
  connection: SessionConnection,
  username: string,
  iq: Element,
  bind: Element,
  onBound: (session: Session, reply: Element) => void,
  maxSessions = 0,
): Promise<Element | undefined> {
  const asked = bind.getChildText("resource")?.trim();
  const resource = asked ? asked : `sb-${randomBytes(6).toString("hex")}`;
  const outcome = await openResource(host, connection, username, resource, (session) => onBound(session, strip(iqResult(iq, x("bind", { xmlns: NS_BIND }, x("jid", {}, session.jid.full))))), maxSessions);
  return outcome && strip(errorReply(iq, outcome.condition, outcome.text, outcome.type));
}

/** Why a resource could not be bound: the stanza error RFC 6120 §7.6.2 gives for it. */
export interface BindRefusal {
  condition: "bad-request" | "resource-constraint" | "internal-server-error";
  type: "modify" | "wait";
  text: string;
}

/**
 * Opens the session of `username/resource` on `connection` (RFC 6120 §7, XEP-0386 uses it with a
 * resource of its own making): undefined once bound (`onBound` ran first), or why not.
 */
export async function openResource(
  host: Host,
  connection: SessionConnection,
  username: string,
  resource: string,
  onBound: (session: Session) => void,
  maxSessions = 0,
): Promise<BindRefusal | undefined> {
  const jid = tryParseJid(`${username}@${host.domain}/${resource}`);
  if (!jid || jid.resource !== resource.normalize("NFC")) {
    return { condition: "bad-request", type: "modify", text: "the requested resource is not a valid JID resourcepart" };
  }
  try {
    // The registry counts every session of the user on every node, detached ones too, in the
    // bind's own atomic step (no read before it, and two edges cannot both pass); a resource
    // already held is replaced, not added.
    await host.sessions.open(jid, connection, { maxSessions, onBound });
    return undefined;
  } catch (err) {
    if (err instanceof SessionLimitError) {
      host.rateLimits.refused("max-sessions-per-user", jid.bare);
      return { condition: "resource-constraint", type: "wait", text: `you already have ${err.held} sessions, the most this server allows (limits.maxSessionsPerUser); close one first` };
    }
    // Registry unreachable (cluster mode, Redis down): a temporary error, the client retries.
    host.log.warn({ err, jid: jid.full }, "resource binding failed: session registry unavailable");
    return { condition: "internal-server-error", type: "wait", text: "the session registry is temporarily unavailable; try again" };
  }
}

function strip(el: Element): Element {
  delete el.attrs.to;
  delete el.attrs.from;
  return el;
}
