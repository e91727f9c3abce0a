/**
 * XEP-0357 settings. The operator sets them as `push.*` (the server binds those keys to these
 * options, see BOUND_OPTIONS): `push.includeBody`, `push.maxPerMinutePerDevice`.
 */
import { option, type OptionsOf } from "@switchboard/core";

export const PUSH_OPTIONS = {
  includeBody: option.boolean(false, "Put the message text in the push summary (`last-message-body` of XEP-0357's summary form); off by default, since the app server (and the phone vendor's push service behind it) then reads every message."),
  maxPerMinutePerDevice: option.integer(1, 600, 10, "Push notifications sent to one registration (one app server JID and node) per minute at most, across the cluster; messages past it are still stored or queued, only their notification is skipped."),
};

export type PushOptions = OptionsOf<typeof PUSH_OPTIONS>;
