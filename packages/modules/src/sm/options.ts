/**
 * XEP-0198 settings. The operator sets them as `sm.*` (the server binds those keys to these
 * options, see BOUND_OPTIONS): `sm.ackEvery`, `sm.ackAfterSeconds`, `sm.resumeTimeoutSeconds`,
 * `sm.maxQueue`, `sm.maxUnacked`.
 */
import { option, type OptionsOf } from "@switchboard/core";

export const SM_OPTIONS = {
  ackEvery: option.integer(1, 10_000, 5, "Ask a stream-management client for an acknowledgement after this many unacknowledged stanzas (XEP-0198 §4)."),
  ackAfterSeconds: option.seconds(0.1, 3600, 30, "Ask for an acknowledgement when output has stayed unacknowledged this long."),
  resumeTimeoutSeconds: option.integer(0, 86_400, 300, "How long a session whose stream dropped keeps its resource and presence, waiting for a resumption on any edge; 0 offers no resumption."),
  maxQueue: option.integer(1, 1_000_000, 500, "Stanzas queued for a detached session at most; past it messages go to offline storage."),
  maxUnacked: option.integer(1, 1_000_000, 5000, "Unacknowledged stanzas an attached client may leave; past it the stream is closed and what it held is routed again."),
};

export type SmOptions = OptionsOf<typeof SM_OPTIONS>;
