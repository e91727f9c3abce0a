import type { ModuleDefinition } from "@switchboard/core";
import { rosterModule } from "./roster/index.js";
import { presenceModule } from "./presence/index.js";
import { messageModule } from "./message/index.js";
import { offlineModule } from "./offline/index.js";
import { carbonsModule } from "./carbons/index.js";
import { discoModule, type ContactAddresses } from "./disco/index.js";
import { pingModule } from "./ping/index.js";
import { versionModule } from "./version/index.js";
import { vcardModule } from "./vcard/index.js";
import { blockingModule } from "./blocking/index.js";
import { registerModule } from "./register/index.js";
import { timeModule } from "./time/index.js";
import { lastModule } from "./last/index.js";
import { privateModule } from "./private/index.js";
import { smModule } from "./sm/index.js";
import { csiModule } from "./csi/index.js";
import { congestionModule } from "./congestion/index.js";
import { pushModule } from "./push/index.js";
import { stanzaIdModule } from "./stanza-id/index.js";
import { capsModule } from "./caps/index.js";
import { pepModule } from "./pep/index.js";
import { bookmarksCompatModule } from "./bookmarks/index.js";
import { avatarConversionModule } from "./avatar-conversion/index.js";

export interface ModuleSettings {
  offlinePerUser: number;
  /** `limits.presencePerSecond` and `limits.presenceBurst` (the presence module's pacing) */
  presencePacing?: { perSecond: number; burst: number };
  registration: { enabled: boolean; perIpPerHour: number };
  /** XEP-0157 contact addresses the server publishes in disco (`contact.abuse`, …); none when absent */
  contact?: ContactAddresses;
  /** XEP-0198 settings (`sm.*`) */
  sm?: Record<string, unknown>;
  /** XEP-0357 settings (`push.*`) */
  push?: Record<string, unknown>;
  /** XEP-0163 limits (`pep.*`) */
  pep?: Record<string, unknown>;
  /** operators' `modules.<name>.<option>` values, over the defaults each module declares */
  modules?: Record<string, Record<string, unknown>>;
}

/** Every module a server loads, in load order (the server's config lists their declared options). */
export const DEFAULT_MODULES: ReadonlyArray<ModuleDefinition<any>> = [
  rosterModule,
  presenceModule,
  messageModule,
  offlineModule,
  carbonsModule,
  discoModule,
  pingModule,
  versionModule,
  vcardModule,
  blockingModule,
  timeModule,
  lastModule,
  privateModule,
  smModule,
  csiModule,
  congestionModule,
  capsModule,
  pepModule,
  bookmarksCompatModule,
  // XEP-0398: avatars published with XEP-0084 also in the vCard, their hash in presence
  avatarConversionModule,
  // always: logged-in users change their password or delete their account even when
  // registering new accounts in-band is off
  registerModule,
  pushModule,
  // XEP-0359: forged stanza-ids are removed whether or not this server archives
  stanzaIdModule,
];

/**
 * Module options that come from a top-level setting instead of `modules.<name>.<option>`: the
 * areas the issues name keep their own sections (limits.*, registration.*, contact.*).
 */
export const BOUND_OPTIONS: Readonly<Record<string, string>> = {
  "offline.maxPerUser": "limits.offlinePerUser",
  "presence.broadcastsPerSecond": "limits.presencePerSecond",
  "presence.broadcastBurst": "limits.presenceBurst",
  "register.allowRegistration": "registration.enabled",
  "register.perIpPerHour": "registration.perIpPerHour",
  "disco.contact": "contact.*",
  ...Object.fromEntries(Object.keys(smModule.options ?? {}).map((name) => [`sm.${name}`, `sm.${name}`])),
  ...Object.fromEntries(Object.keys(pushModule.options ?? {}).map((name) => [`push.${name}`, `push.${name}`])),
  ...Object.fromEntries(Object.keys(pepModule.options ?? {}).map((name) => [`pep.${name}`, `pep.${name}`])),
};

/** The modules a server loads, with options taken from the server configuration. */
export function defaultModules(s: ModuleSettings): Array<[ModuleDefinition<any>, Record<string, unknown>]> {
  const bound: Record<string, Record<string, unknown>> = {
    offline: { maxPerUser: s.offlinePerUser },
    ...(s.presencePacing ? { presence: { broadcastsPerSecond: s.presencePacing.perSecond, broadcastBurst: s.presencePacing.burst } } : {}),
    disco: { contact: s.contact ?? {} },
    sm: { ...s.sm },
    pep: { ...s.pep },
    register: { allowRegistration: s.registration.enabled, perIpPerHour: s.registration.perIpPerHour },
    push: { ...s.push },
  };
  return DEFAULT_MODULES.map((def) => [def, { ...s.modules?.[def.name], ...bound[def.name] }]);
}
