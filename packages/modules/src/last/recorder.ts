/**
 * What XEP-0012 §4 answers for an offline user: when its last resource went away and the
 * <status/> of the unavailable presence it left with. Written when the user's last connected
 * resource sends unavailable presence, and again when its stream closes (or when a dead node's
 * session is purged in cluster mode; that session's goodbye died with its node, so no status).
 * The first write matters: the stream's registry entry goes before `session/closed` fires, and
 * a query landing in between would otherwise be answered from the previous logout's record.
 * The status is remembered per stream, and forgotten if the client comes back available.
 *
 * Only the user's last connected resource writes: while another is connected the query
 * answers 0 anyway. A node's own registry writes drop its cache of that user, so of two
 * resources closing at the same moment on two edges at least one sees the other gone and
 * writes.
 */
import { bareOf } from "@switchboard/xml";
import { sessionState, type LocalSession, type ModuleContext } from "@switchboard/core";

/** the status of the unavailable presence the session left with (declared session state) */
const GOODBYE = sessionState<{ status?: string }>("last.goodbye", () => ({}));

/** after the presence module has told the contacts (observe band: records, never stops a chain) */
const RECORD_PRIORITY = { band: "after" } as const;
/** before the presence module, which handles presence/self and ends the chain */
const TRACK_PRIORITY = { band: "feature", offset: 100 } as const;

export function recordLastActivity(ctx: ModuleContext<unknown>): void {
  const { host, log } = ctx;
  const goodbyes = ctx.sessionState(GOODBYE);

  /** `leaving`: the stream still bound that is on its way out, not counted as staying */
  const record = async (owner: string, status: string | undefined, leaving?: LocalSession): Promise<void> => {
    try {
      const staying = (await host.registry.list(owner)).filter((s) => s.sessionId !== leaving?.id);
      if (staying.length > 0) return;
      // An account removed in-band has its stream closed after its data was wiped: writing now
      // would leave a record behind the account (every store deletes all user data with it).
      if (!(await host.store.accounts.exists(owner))) return;
      await host.store.lastActivity.set(owner, Date.now(), status);
    } catch (err) {
      // never break the other modules' cleanup of this stream
      log.warn({ err, jid: owner }, "could not record last activity");
    }
  };

  ctx.on(
    "presence/self",
    async (ev) => {
      const session = ev.origin;
      if (!session) return false;
      const type = ev.stanza.attrs.type;
      if (type === undefined) session.state(goodbyes).status = undefined;
      if (type !== "unavailable") return false;
      const status = ev.stanza.getChildText("status") || undefined;
      session.state(goodbyes).status = status;
      await record(session.jid.bare, status, session);
      return false;
    },
    TRACK_PRIORITY,
  );

  ctx.on(
    "session/closed",
    async ({ session }) => {
      await record(session.jid.bare, session.state(goodbyes).status);
    },
    RECORD_PRIORITY,
  );
  ctx.on("session/purged", async ({ info }) => record(bareOf(info.jid), undefined), RECORD_PRIORITY);
}
