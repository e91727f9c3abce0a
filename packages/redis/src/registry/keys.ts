/**
 * Key layout of the Redis session registry.
 *
 * - `${prefix}:{${bare}}:sessions` hash, field = full JID, value = JSON SessionInfo. The bare JID
 *   is the hash tag, so every key of one user lands in one Redis Cluster slot and a Lua script may
 *   touch them together (ARCHITECTURE.md "Keys for one user share a Redis Cluster hash tag").
 * - `${prefix}:node:{${nodeId}}:sessions` set: the per-node index used to purge a dead edge.
 * - `${prefix}:node:{${nodeId}}:alive` liveness key with a TTL, `...:purge` purge lock, `...:epoch`
 *   current life. The node keys share the `{nodeId}` tag so the fencing scripts (scripts.ts) can check
 *   alive key, lock and epoch atomically.
 * - `${prefix}:nodes` set of node ids that may hold sessions.
 * - `${prefix}:identities` hash, field = node id, value = JSON digests of its TLS certificate and
 *   server secret (identity.ts), so an edge can tell at start that it differs from the others.
 *
 * Index members are `[fullJid, sessionId]` (JSON), not the bare full JID: see memberOf() for why.
 */
import { bareOf } from "@switchboard/xml";

export const DEFAULT_PREFIX = "sb";


export class RegistryKeys {
  constructor(readonly prefix: string = DEFAULT_PREFIX) {}

  userSessions(bare: string): string {
    return `${this.prefix}:{${bare}}:sessions`;
  }

  sessionsOf(fullJid: string): string {
    return this.userSessions(bareOf(fullJid));
  }

  nodeSessions(nodeId: string): string {
    return `${this.prefix}:node:{${nodeId}}:sessions`;
  }

  nodeAlive(nodeId: string): string {
    return `${this.prefix}:node:{${nodeId}}:alive`;
  }

  nodePurgeLock(nodeId: string): string {
    return `${this.prefix}:node:{${nodeId}}:purge`;
  }

  /** token of the announced life of the node; deleted by a purge, so a node back from a partition knows */
  nodeEpoch(nodeId: string): string {
    return `${this.prefix}:node:{${nodeId}}:epoch`;
  }

  nodes(): string {
    return `${this.prefix}:nodes`;
  }

  identities(): string {
    return `${this.prefix}:identities`;
  }
}

/**
 * Node index member for one session. It carries the sessionId, not only the full JID, because the
 * index and the user hash live in different slots and cannot change atomically together: with
 * JID-only members, "unbind(old) removes JID from the index" racing "bind(new) on the same node
 * adds JID" (a client reconnecting with the same resource, RFC 6120 §7.7.2.2) can drop the new
 * session from the index, and an unindexed entry would outlive its edge. With the sessionId in the
 * member, every writer adds and removes only its own member, so no interleaving loses one.
 */
export function memberOf(fullJid: string, sessionId: string): string {
  return JSON.stringify([fullJid, sessionId]);
}

export function parseMember(member: string): { jid: string; sessionId: string } | undefined {
  try {
    const parsed: unknown = JSON.parse(member);
    if (Array.isArray(parsed) && typeof parsed[0] === "string" && typeof parsed[1] === "string") {
      return { jid: parsed[0], sessionId: parsed[1] };
    }
  } catch {
    // not ours: ignored below
  }
  return undefined;
}

