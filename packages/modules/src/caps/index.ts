/**
 * XEP-0115 Entity Capabilities, the server's side: it reads the caps each client puts in its
 * presence, verifies an unknown hash by asking that client for its disco#info (§6.2, §5.4) and
 * caches what matched (directory.ts). When a session's caps become known — at its first
 * available presence carrying them, or when they change — `caps/known` is fired on the node
 * holding the session, so personal eventing can send it the last items it now wants
 * (XEP-0163 §4.3.2). A hash that does not match is ignored: never cached, never acted on.
 */
import type { LocalSession } from "@switchboard/core";
import { defineModule, option } from "@switchboard/core";
import { capsClaim, capsKey } from "./hash.js";
import { capsDirectory } from "./directory.js";

export { NS_CAPS, capsVer, capsClaim, capsKey } from "./hash.js";
export { capsDirectory, CapsDirectory } from "./directory.js";

export interface CapsKnownEvent {
  session: LocalSession;
  /** the verified features of the session's caps */
  features: ReadonlySet<string>;
}

declare module "@switchboard/core" {
  interface CoreEvents {
    /** a local session's entity capabilities are known (verified) and new for it (caps/index.ts) */
    "caps/known": CapsKnownEvent;
  }
}

export const capsModule = defineModule({
  name: "caps",
  spec: "XEP-0115",
  options: {
    verificationsPerSession: option.integer(1, 1000, 10, "Most unknown entity-capabilities hashes (XEP-0115) one session may have the server verify; later new hashes of that session are ignored."),
  },
  setup(ctx) {
    const { host, log } = ctx;
    const directory = capsDirectory(host, log);
    ctx.onUnload(directory.follow());
    /** the caps key each session last announced (a WeakMap: a session that never sends caps costs nothing) */
    const announced = new WeakMap<LocalSession, string>();
    /** unknown keys each session made this node verify: every verified one stays in the cache */
    const verified = new WeakMap<LocalSession, number>();

    ctx.on(
      "presence/self",
      (ev) => {
        const session = ev.origin;
        if (!session || ev.stanza.attrs.type !== undefined) return;
        const claim = capsClaim(ev.stanza);
        if (!claim) return;
        const key = capsKey(claim);
        if (announced.get(session) === key) return;
        announced.set(session, key);
        // In the background: a client slow to answer disco#info must not hold up its presence.
        void (async () => {
          let features = await directory.features(key);
          if (!features) {
            // A client may change its caps now and then; one that keeps inventing new ones would
            // fill the cache (each verified hash is kept): past the allowance it is not asked.
            const tries = (verified.get(session) ?? 0) + 1;
            verified.set(session, tries);
            if (tries > ctx.options.verificationsPerSession) {
              if (tries === ctx.options.verificationsPerSession + 1) log.info({ jid: session.jid.full }, "entity capabilities changed too often; new hashes of this session are ignored");
              return;
            }
            features = await directory.verify(session.jid.full, claim);
          }
          if (features && announced.get(session) === key && !session.closed) await host.hooks.fire("caps/known", { session, features });
        })().catch((err) => log.warn({ err, jid: session.jid.full }, "entity capabilities could not be learnt"));
      },
      { band: "observe" },
    );
  },
});
