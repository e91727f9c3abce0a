/**
 * What goes into the archives (XEP-0313 §6.1 "Business rules", user archives): every message a
 * local account sends or receives that the shared storable rule keeps (../message/storable.ts:
 * no headlines, errors, groupchat or standalone chat states), in the sender's archive and in the
 * recipient's when they are local, subject to each owner's preferences (prefs.ts).
 *
 * - The sender's copy is taken on `stanza/out` after the policy band (a message the sender's
 *   blocklist refuses is not archived) and after carbons (which may strip <private/>).
 * - The recipient's copy is taken on `message/full|bare` after blocking (a blocked sender's
 *   message is not accepted, §6.1: "should not appear in the archive"), before carbons and
 *   delivery: the id is made here, on this node, and the message travels on with
 *   `<stanza-id by=recipient/>` (XEP-0359 §4), so the recipient's resources and carbons see the
 *   same id their archive answers with.
 * - The append itself is not awaited (the adapter batches it): delivery never waits on storage.
 */
import type { ArchiveIds, ArchiveStore, ArchivedMessage, Host, Logger, ModuleContext, StanzaEvent } from "@switchboard/core";
import type { Element } from "@switchboard/xml";
import { isStorable } from "../message/storable.js";
import { withStanzaId } from "../stanza-id/index.js";
import { prefsAllow, type PrefsCache } from "./prefs.js";
import { retractionTarget, tombstoneRetracted } from "./retract.js";

/** After blocking (policy) and carbons' <private/> stripping (feature −100). */
const SENDER_SIDE = { band: "feature", offset: -110 } as const;
/** After inbound blocking (policy), before carbons (feature +10) and the message module. */
const RECIPIENT_SIDE = { band: "feature", offset: 20 } as const;

export interface ArchiveHookDeps {
  archive: ArchiveStore;
  prefs: PrefsCache;
  ids: ArchiveIds;
  archived: { add(n?: number): void };
}

export function registerArchiveHooks(ctx: ModuleContext<unknown>, deps: ArchiveHookDeps): void {
  const { host, log } = ctx;
  const { archive, prefs, ids } = deps;

  /** the owner keeps messages with `other`: preferences, the roster only when they say so */
  const keeps = async (owner: string, other: { bare: string; full: string }): Promise<boolean> => {
    const p = prefs.get(owner);
    const resolved = p instanceof Promise ? await p : p;
    return prefsAllow(resolved, other, async () => (await host.store.roster.get(owner, other.bare))?.inRoster === true);
  };

  const row = (owner: string, other: { bare: string; full: string }, stanza: Element): ArchivedMessage => {
    const { seq, id } = ids.next();
    return { owner, seq, id, withBare: other.bare, withFull: other.full, xml: stanza.toString() };
  };

  ctx.on(
    "stanza/out",
    async (ev) => {
      if (ev.kind !== "message" || !ev.origin) return;
      // a message to one's own account is archived once, on the recipient side
      if (ev.to.bare === ev.from.bare || !isStorable(ev.stanza)) return;
      const owner = ev.from.bare;
      const other = { bare: ev.to.bare, full: ev.to.full };
      if (!(await keeps(owner, other))) return;
      archive.append([row(owner, other, ev.stanza)]);
      deps.archived.add();
      retractIfAsked(host, archive, log, ev, owner, other.bare);
    },
    SENDER_SIDE,
  );

  const recipientSide = async (ev: StanzaEvent): Promise<void> => {
    if (!isStorable(ev.stanza)) return;
    const owner = ev.to.bare;
    // An account that does not exist has no archive (the message module bounces the message).
    // A bound resource proves it exists; the registry list is cached on the hot path.
    if ((await host.registry.list(owner)).length === 0 && !(await host.store.accounts.exists(owner))) return;
    const other = { bare: ev.from.bare, full: ev.from.full };
    if (!(await keeps(owner, other))) return;
    const r = row(owner, other, ev.stanza);
    archive.append([r]);
    deps.archived.add();
    ev.stanza = withStanzaId(ev.stanza, r.id, owner);
    if (owner !== ev.from.bare) retractIfAsked(host, archive, log, ev, owner, other.bare);
  };
  ctx.on("message/full", recipientSide, RECIPIENT_SIDE);
  ctx.on("message/bare", recipientSide, RECIPIENT_SIDE);
}

/**
 * XEP-0424 §5 (server handling): a retraction replaces the retracted message in the archive by a
 * tombstone — only when it came from that message's sender. Runs beside delivery, not in its way.
 */
function retractIfAsked(host: Host, archive: ArchiveStore, log: Logger, ev: StanzaEvent, owner: string, withBare: string): void {
  const target = retractionTarget(ev.stanza);
  if (target === undefined) return;
  const sender = ev.from.bare;
  void (async () => {
    const original = await archive.findByMessageId(owner, withBare, target);
    if (!original) return;
    const tombstone = tombstoneRetracted(original.xml, sender, host.domain);
    if (tombstone !== undefined) await archive.replace(owner, original.id, tombstone);
  })().catch((err: unknown) => log.warn({ err, owner }, "could not apply a message retraction to the archive"));
}
