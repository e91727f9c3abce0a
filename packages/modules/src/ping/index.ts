/**
 * XEP-0199 XMPP Ping: answers client-to-server pings (§4.2) and, when `keepaliveSeconds` > 0,
 * pings clients that have been silent that long (§3) and closes the stream of one that does
 * not answer within `timeoutSeconds` (a dead TCP peer otherwise lingers until the kernel gives
 * up, keeping the resource "online" for its contacts).
 */
import { NS_PING, StanzaError, StreamError } from "@switchboard/xml";
import { defineModule, option, type OptionsOf, type LocalSession, type ModuleContext } from "@switchboard/core";
import { pingClient } from "./ping-client.js";

export { pingClient } from "./ping-client.js";

/** Operator options: `modules.ping.<option>`. */
export const PING_OPTIONS = {
  keepaliveSeconds: option.seconds(0, 86_400, 0, "Ping a client that has been silent this many seconds (XEP-0199 §3) and close its stream when it does not answer; 0 turns server-to-client pings off."),
  timeoutSeconds: option.seconds(0.01, 3600, 30, "Seconds a client has to answer a server ping before its stream is closed with <connection-timeout/>."),
};
export type PingOptions = OptionsOf<typeof PING_OPTIONS>;

export const pingModule = defineModule({
  name: "ping",
  spec: "XEP-0199",
  options: PING_OPTIONS,
  setup(ctx) {
    ctx.hostFeature(NS_PING);

    // §4.2: a ping to the server domain, or to one's own bare JID (RFC 6120 §10.3.3: the
    // server answers for the account), gets an empty result.
    ctx.iq({ type: "get", xmlns: NS_PING, name: "ping", targets: ["host", "bare"] }, (ev) => {
      if (ev.to.local !== "" && ev.to.bare !== ev.from.bare) throw new StanzaError("service-unavailable");
    });

    if (ctx.options.keepaliveSeconds > 0) startKeepalive(ctx);
  },
});

function startKeepalive(ctx: ModuleContext<PingOptions>): void {
  const { host, options, log } = ctx;
  const intervalMs = options.keepaliveSeconds * 1000;
  const timeoutMs = options.timeoutSeconds * 1000;
  /** local streams and when they last sent something */
  const lastActive = new Map<LocalSession, number>();
  const inFlight = new Set<LocalSession>();

  ctx.on("session/bound", ({ session }) => void lastActive.set(session, Date.now()));
  // a session resumed here (from this node or another) is watched like a new one
  ctx.on("session/attached", ({ session }) => void lastActive.set(session, Date.now()));
  ctx.on("session/closed", ({ session }) => void lastActive.delete(session));
  // Any stanza from the client proves it is alive; in the observe band so it runs before a
  // handler that stops the stanza (it never stops anything itself).
  ctx.on(
    "stanza/out",
    (ev) => {
      if (ev.origin && lastActive.has(ev.origin)) lastActive.set(ev.origin, Date.now());
    },
    { band: "observe" },
  );

  const check = async (session: LocalSession): Promise<void> => {
    inFlight.add(session);
    try {
      const alive = await pingClient(host, session.jid.full, timeoutMs);
      if (!alive && !session.closed) {
        log.info({ jid: session.jid.full }, "closing stream: no answer to XEP-0199 ping");
        session.close(new StreamError("connection-timeout", "no answer to ping"));
      }
    } catch (err) {
      log.warn({ err, jid: session.jid.full }, "server-to-client ping failed");
    } finally {
      inFlight.delete(session);
    }
  };

  const timer = setInterval(() => {
    const now = Date.now();
    for (const [session, at] of lastActive) {
      if (session.closed) lastActive.delete(session);
      else if (now - at >= intervalMs && !inFlight.has(session)) void check(session);
    }
  }, Math.max(10, Math.min(intervalMs, 60_000)));
  timer.unref?.();
  ctx.onUnload(() => clearInterval(timer));
}
