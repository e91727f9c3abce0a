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

  /**
   * Whether the owner keeps messages with `other`: synchronously in the common case (cached
   * preferences that keep everything), else a promise (a first load, a `roster` default).
   */
  const keeps = (owner: string, other: { bare: string; full: string }): boolean | Promise<boolean> => {
    const p = prefs.get(owner);
    if (p instanceof Promise) return p.then((loaded) => prefsAllow(loaded, other, inRoster(owner, other.bare)));
    return prefsAllow(p, other, inRoster(owner, other.bare));
  };
  const inRoster = (owner: string, contact: string) => async () => (await host.store.roster.get(owner, contact))?.inRoster === true;

  // The sender's and the recipient's copies are the same element: judge and serialize it once.
  const storable = new WeakMap<Element, boolean>();
  const isKept = (stanza: Element): boolean => {
    let kept = storable.get(stanza);
    if (kept === undefined) storable.set(stanza, (kept = isStorable(stanza)));
    return kept;
  };
  const serialized = new WeakMap<Element, string>();
  const xmlOf = (stanza: Element): string => {
    let xml = serialized.get(stanza);
    if (xml === undefined) serialized.set(stanza, (xml = stanza.toString()));
    return xml;
  };
  const row = (owner: string, other: { bare: string; full: string }, stanza: Element): ArchivedMessage => {
    const { seq, id } = ids.next();
    return { owner, seq, id, withBare: other.bare, withFull: other.full, xml: xmlOf(stanza) };
  };

  const archiveSent = (ev: StanzaEvent, owner: string, other: { bare: string; full: string }): void => {
    archive.append([row(owner, other, ev.stanza)]);
    deps.archived.add();
    retractIfAsked(host, archive, log, ev, owner, other.bare);
  };
  // Hook handlers stay synchronous on the common path (no promise per message).
  ctx.on(
    "stanza/out",
    (ev) => {
      if (ev.kind !== "message" || !ev.origin) return;
      // a message to one's own account is archived once, on the recipient side
      if (ev.to.bare === ev.from.bare || !isKept(ev.stanza)) return;
      const owner = ev.from.bare;
      const other = { bare: ev.to.bare, full: ev.to.full };
      const kept = keeps(owner, other);
      if (kept === true) archiveSent(ev, owner, other);
      else if (kept !== false) return kept.then((yes) => void (yes && archiveSent(ev, owner, other)));
    },
    SENDER_SIDE,
  );

  const archiveReceived = (ev: StanzaEvent, owner: string, other: { bare: string; full: string }): void => {
    const r = row(owner, other, ev.stanza);
    archive.append([r]);
    deps.archived.add();
    // a new element: its trace goes with it (the span is looked up by element, tracing.ts)
    const stamped = withStanzaId(ev.stanza, r.id, owner);
    host.traces.carry(ev.stanza, stamped);
    ev.stanza = stamped;
    if (owner !== ev.from.bare) retractIfAsked(host, archive, log, ev, owner, other.bare);
  };
  // Accounts this node has seen exist: an archive is only kept for an existing account (a
  // message to a made-up JID is bounced by the message module, and must not make rows), and
  // asking once per account spares the hot path a registry or store call per message. A
  // removed account stays in here until the bound resets it; its messages are bounced anyway.
  const existing = new Set<string>();
  const exists = async (owner: string): Promise<boolean> => {
    if ((await host.registry.list(owner)).length === 0 && !(await host.store.accounts.exists(owner))) return false;
    if (existing.size >= 100_000) existing.clear();
    existing.add(owner);
    return true;
  };
  const recipientSide = (ev: StanzaEvent): void | Promise<void> => {
    if (!isKept(ev.stanza)) return;
    const owner = ev.to.bare;
    const other = { bare: ev.from.bare, full: ev.from.full };
    if (existing.has(owner)) {
      const kept = keeps(owner, other);
      if (kept === true) return archiveReceived(ev, owner, other);
      if (kept === false) return;
    }
    return (async () => {
      if (!(await exists(owner))) return;
      if (await keeps(owner, other)) archiveReceived(ev, owner, other);
    })();
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
