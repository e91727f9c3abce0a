/**
 * Key layout of the Redis store. Every key of one user carries the bare JID as a Redis Cluster
 * hash tag (`{bare}`), so all of a user's data lives in one hash slot and a Lua script may touch
 * several of them (Redis Cluster spec, "Keys hash tags"; scripts must not cross slots). The only
 * global key is the account index, which is never touched in the same script as a user key.
 *
 * A localpart may legally contain "{" or "}" (RFC 7622 §3.3 does not forbid them). That is
 * harmless: every key of a user is `${prefix}:{${bare}}:<suffix>` with a suffix free of braces,
 * so Redis picks the same tag for all of them (at worst a shorter one, which only affects how
 * evenly users spread over slots), and distinct (bare, suffix) pairs still give distinct keys.
 *
 * The ban index is the second global key, with the same rule.
 */

export interface UserKeys {
  /** string: JSON of the SCRAM credentials */
  account: string;
  /** hash: contact bare JID → JSON RosterItem */
  roster: string;
  /** string counter: last issued roster version (kept when the account is deleted) */
  rosterVersion: string;
  /** stream: one entry per stanza (field `xml`), in arrival order; a list in older versions */
  offline: string;
  /** string with TTL: token of the node delivering the offline messages right now */
  offlineClaim: string;
  /** string: serialized vCard element */
  vcard: string;
  /** sorted set: blocked JID scored by insertion sequence, so the blocking order is kept */
  blocklist: string;
  /** string: JSON `{ at, status? }` of the user's last logout (XEP-0012) */
  lastActivity: string;
  /** hash: namespace → serialized private XML (XEP-0049) */
  privateXml: string;
  /** string: JSON Ban; with `until`, PEXPIREAT'd to it so Redis itself forgets the ban when it ends */
  ban: string;
  /** hash: "jid\nnode" → JSON push registration (XEP-0357) */
  push: string;
  /** hash: user-agent id → JSON FastTokens (XEP-0484; the tokens sealed) */
  fastTokens: string;
  /** hash: PEP node → JSON `{config, order}` (XEP-0163, pep.ts) */
  pepNodes: string;
  /** hash: `node NUL item id` → JSON PepItem */
  pepItems: string;
}

export class InvalidKeyPrefixError extends Error {
  override name = "InvalidKeyPrefixError";
  constructor(readonly prefix: string) {
    super(`Redis key prefix ${JSON.stringify(prefix)} must be non-empty and free of "{", "}" and "*"`);
  }
}

/** Rejects prefixes that would change which hash tag Redis sees, or break SCAN MATCH cleanup. */
export function assertValidPrefix(prefix: string): void {
  if (prefix === "" || /[{}*?[\]]/.test(prefix)) throw new InvalidKeyPrefixError(prefix);
}

export function userKeys(prefix: string, bare: string): UserKeys {
  const base = `${prefix}:{${bare}}`;
  return {
    account: `${base}:account`,
    roster: `${base}:roster`,
    rosterVersion: `${base}:rosterver`,
    offline: `${base}:offline`,
    offlineClaim: `${base}:offlineclaim`,
    vcard: `${base}:vcard`,
    blocklist: `${base}:blocklist`,
    lastActivity: `${base}:last`,
    privateXml: `${base}:private`,
    ban: `${base}:ban`,
    push: `${base}:push`,
    fastTokens: `${base}:fast`,
    pepNodes: `${base}:pepnodes`,
    pepItems: `${base}:pepitems`,
  };
}

/** Sorted set (all scores 0) of every account's bare JID, for `AccountStore.list()`. */
export function accountIndexKey(prefix: string): string {
  return `${prefix}:accounts`;
}

/**
 * Sorted set of every banned bare JID, scored by the ban's `until` ("+inf" for a ban until
 * unbanned), for `BanStore.list()`. The score lets list() prune ended entries by the index alone.
 */
export function banIndexKey(prefix: string): string {
  return `${prefix}:bans`;
}

/**
 * Redis Cluster hash slot of a key: CRC16-XMODEM of the hash tag (or the whole key when it has
 * no non-empty tag) modulo 16384 (Redis Cluster spec, "Key distribution model"). Used by tests
 * and diagnostics; the store itself never needs it.
 */
export function hashSlot(key: string): number {
  const open = key.indexOf("{");
  let hashed = key;
  if (open !== -1) {
    const close = key.indexOf("}", open + 1);
    if (close > open + 1) hashed = key.slice(open + 1, close);
  }
  let crc = 0;
  for (const byte of Buffer.from(hashed, "utf8")) {
    crc ^= byte << 8;
    for (let bit = 0; bit < 8; bit++) {
      crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
    }
  }
  return crc % 16384;
}
