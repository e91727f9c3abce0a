/**
 * XEP-0352 client state indication: a client says it is `<inactive/>` (a phone in a pocket) and
 * `<active/>` again; meanwhile the server holds what the client need not see at once (hold.ts)
 * and writes it all, in order, when the client is active again or something urgent comes.
 *
 * - The feature `<csi xmlns='urn:xmpp:csi:0'/>` is offered after authentication; the elements are
 *   accepted once a resource is bound (stream-level handlers: they are not stanzas and do not
 *   count for stream management).
 * - Holding is an outgoing session filter that runs before stream management's, so a held
 *   stanza is numbered only when it is really written.
 * - Bounded: past `modules.csi.maxHeld` held stanzas everything is written (the client gets a
 *   burst, never an unbounded queue on the server).
 * - Nothing is lost: when the stream goes, what was held is written as it ends, so stream
 *   management keeps it for a resumption like any unacknowledged stanza, and without it the
 *   delivery fallback takes the messages (another resource, offline storage); a session closed
 *   by the server with stanzas still held has its messages routed again the same way.
 */
import { defineModule, option, type LocalSession } from "@switchboard/core";
import { x } from "@switchboard/xml";
import { reroute } from "../sm/lifecycle.js";
import { HeldStanzas, isUrgent } from "./hold.js";

export const NS_CSI = "urn:xmpp:csi:0";

interface CsiState {
  inactive: boolean;
  /** writing what was held: the filter lets it through */
  flushing: boolean;
  held: HeldStanzas;
}

const OPTIONS = {
  maxHeld: option.integer(1, 100_000, 500, "Stanzas held at most for an inactive client (XEP-0352); past it everything held is written at once."),
};

export const csiModule = defineModule({
  name: "csi",
  spec: "XEP-0352",
  options: OPTIONS,
  setup(ctx) {
    const { host, log } = ctx;
    // Made at a session's first <inactive/>: a client that never uses CSI costs nothing. Not
    // session state that moves with a resumption: a resumed stream starts active (§4).
    const states = new WeakMap<LocalSession, CsiState>();
    ctx.streamFeature("postAuth", () => x("csi", { xmlns: NS_CSI }));

    const flush = (session: LocalSession) => {
      const state = states.get(session);
      const held = state?.held.take() ?? [];
      if (held.length === 0) return;
      state!.flushing = true;
      const lost: typeof held = [];
      try {
        for (const stanza of held) if (session.send(stanza) === "refused") lost.push(stanza);
      } finally {
        state!.flushing = false;
      }
      if (lost.length > 0) void reroute(host, log, lost);
    };

    const setActive = (active: boolean) => (stream: { session?: LocalSession }) => {
      const session = stream.session;
      if (!session) return;
      let state = states.get(session);
      if (!state) {
        if (active) return;
        states.set(session, (state = { inactive: false, flushing: false, held: new HeldStanzas() }));
      }
      state.inactive = !active;
      if (active) flush(session);
    };
    ctx.streamElement({ states: ["bound"], xmlns: NS_CSI, name: "inactive" }, setActive(false));
    ctx.streamElement({ states: ["bound"], xmlns: NS_CSI, name: "active" }, setActive(true));
    // XEP-0386 §3.3: a client coming back in the background says <inactive/> inside its Bind 2 request.
    ctx.bindInline(NS_CSI, (session, request) => {
      if (request.name === "inactive" || request.name === "active") setActive(request.name === "active")({ session });
    });

    // Before stream management's filter (band "after", offset -4999): held means not yet written.
    ctx.outgoing(
      (session, stanza) => {
        const state = states.get(session);
        if (!state?.inactive || state.flushing) return stanza;
        if (isUrgent(stanza)) {
          flush(session);
          return stanza;
        }
        const outcome = state.held.hold(stanza);
        if (state.held.size > ctx.options.maxHeld) flush(session);
        return outcome;
      },
      { band: "after" },
    );

    // The state is the stream's (§4): when the stream goes, what was held is written as the
    // stream ends — stream management takes it among the unacknowledged stanzas a resumption
    // sends again, the delivery fallback (other resources, offline storage) takes it otherwise —
    // and a resumed stream starts active. Runs before stream management decides to detach.
    ctx.on("session/connection-lost", ({ session }) => {
      const state = states.get(session);
      if (!state) return;
      state.inactive = false;
      flush(session);
      states.delete(session);
    }, { band: "observe" });
    ctx.on("session/closed", async ({ session }) => {
      const held = states.get(session)?.held.take().filter((s) => s.name === "message") ?? [];
      states.delete(session);
      if (held.length > 0) await reroute(host, log, held);
    }, { band: "observe" });
  },
});
