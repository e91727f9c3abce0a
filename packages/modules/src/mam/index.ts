/**
 * XEP-0313 message archive management (urn:xmpp:mam:2, with #extended: before-id, after-id,
 * ids, flip-page) for user archives, with XEP-0359 stanza-ids on archived messages and XEP-0424
 * retraction tombstones. The archive itself is a port (core archive.ts) the server wires:
 * SQLite in a worker thread when embedded, PostgreSQL in a cluster.
 *
 * - archive-hook.ts: what is archived, and the stanza-id on the recipient's copy
 * - form.ts, rsm.ts, query.ts: queries (§4, §5)
 * - prefs.ts: preferences (§7)
 * - retract.ts: XEP-0424 tombstones
 */
import { ArchiveIds, defineModule, type ArchiveStore, type ModuleDefinition } from "@switchboard/core";
import { registerArchiveHooks } from "./archive-hook.js";
import { NS_MAM, NS_MAM_EXTENDED } from "./form.js";
import { MAM_OPTIONS, type MamOptions } from "./options.js";
import { PrefsCache, registerPrefs } from "./prefs.js";
import { registerQuery } from "./query.js";
import { NS_SID } from "../stanza-id/index.js";

export { MAM_OPTIONS, MAX_PAGE, DEFAULT_PAGE, type MamOptions } from "./options.js";
export { NS_MAM, NS_MAM_EXTENDED } from "./form.js";

export function mamModule(archive: ArchiveStore): ModuleDefinition<MamOptions> {
  return defineModule({
    name: "mam",
    spec: "XEP-0313 + XEP-0359 + XEP-0424",
    options: MAM_OPTIONS,
    setup(ctx) {
      // §8 (determining support): the account advertises the archive it has
      ctx.accountFeature(NS_MAM);
      ctx.accountFeature(NS_MAM_EXTENDED);
      // XEP-0359 §6: the entity that stamps stanza-ids says so
      ctx.accountFeature(NS_SID);
      const archived = ctx.host.metrics.counter("switchboard_mam_archived_total", { help: "Messages appended to user archives (XEP-0313)" });
      const prefs = new PrefsCache(archive);
      registerArchiveHooks(ctx, { archive, prefs, ids: new ArchiveIds(), archived });
      registerQuery(ctx, archive);
      registerPrefs(ctx, archive, prefs);
    },
  });
}
