/**
 * Removes every session a node's index points at, for a dead node (purged by a survivor) or for
 * a node's own earlier life (purgeOwn, self-purge after fencing). Run only while holding the
 * node's purge lock; `keepLock` extends it between batches so a big purge is not taken over.
 *
 * Stream-management sessions are not deleted when `keepResumableMs` > 0: they stay in the
 * registry, detached for that long (purge script in scripts.ts), to be resumed elsewhere.
 *
 * Entries are pushed to `out` as they go (each is purged exactly once cluster-wide, the script
 * being conditional), so the caller can report them even if a later batch fails. Resolves false
 * when the lock was lost midway: members may remain for the next purger.
 */
import type { Redis } from "ioredis";
import type { SessionInfo } from "@switchboard/core";
import { decode } from "./redis-registry.js";
import { parseMember, type RegistryKeys } from "./keys.js";
import { scriptedPipeline } from "./scripts.js";

const BATCH = 500;

export interface Purged {
  /** entries deleted (the streams are gone for good) */
  deleted: SessionInfo[];
  /** stream-management sessions kept, detached (their detachedUntil set) */
  detached: SessionInfo[];
}

export function emptyPurge(): Purged {
  return { deleted: [], detached: [] };
}

export async function purgeNodeSessions(
  redis: Redis,
  keys: RegistryKeys,
  nodeId: string,
  keepLock: () => Promise<boolean>,
  out: Purged,
  keepResumableMs = 0,
): Promise<boolean> {
  const index = keys.nodeSessions(nodeId);
  for (;;) {
    const members = await redis.srandmember(index, BATCH);
    if (members.length === 0) return true;
    const pipeline = scriptedPipeline(redis);
    const keepUntil = keepResumableMs > 0 ? Date.now() + keepResumableMs : 0;
    for (const member of members) {
      const parsed = parseMember(member);
      // An unparsable member cannot point at an entry; it is just removed below.
      if (parsed) pipeline.switchboardRegistryPurgeEntry(keys.sessionsOf(parsed.jid), parsed.jid, nodeId, parsed.sessionId, keepUntil);
    }
    for (const [error, reply] of (await pipeline.exec()) ?? []) {
      if (error) throw error;
      if (!Array.isArray(reply)) continue;
      const [raw, outcome] = reply as [string, string];
      const entry = decode(raw);
      if (entry) (outcome === "detached" ? out.detached : out.deleted).push(entry);
    }
    // Removed only after their entries are gone: a purger dying in between leaves members for
    // the next one, never entries without members.
    await redis.srem(index, ...members);
    if (!(await keepLock())) return false;
  }
}
