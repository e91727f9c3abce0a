/**
 * XEP-0313 settings. The operator sets them as `mam.*` (the server binds those keys, as it does
 * `sm.*`): `mam.enabled`, `mam.maxMessagesPerUser`, `mam.retentionDays`. The archive adapter
 * enforces the cap and the retention; the module serves the protocol.
 */
import { option, type OptionsOf } from "@switchboard/core";

export const MAM_OPTIONS = {
  enabled: option.boolean(true, "Keep a message archive per account (XEP-0313) and stamp archived messages with XEP-0359 stanza-ids. A cluster without postgresUrl has no archive."),
  maxMessagesPerUser: option.integer(0, 10_000_000, 100_000, "Messages kept in one account's archive; past it the oldest go. 0: no cap."),
  retentionDays: option.integer(0, 36_500, 0, "Archived messages older than this many days are deleted (checked hourly) and never returned. 0: kept."),
};
export type MamOptions = OptionsOf<typeof MAM_OPTIONS>;

/** Results per query page at most (XEP-0313 §5.1.1 lets the server limit pages); a bigger RSM <max> is clamped to it. */
export const MAX_PAGE = 250;
/** Results per page when the client gives no RSM <max>. */
export const DEFAULT_PAGE = 50;
