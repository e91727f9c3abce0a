/**
 * What every edge of a cluster must share: the TLS certificate (a client moved to another edge
 * by a balancer, a restart or stream resumption would otherwise meet a different one, which
 * clients that pinned the first refuse) and the server secret (it derives the fake SCRAM salts
 * of unknown users, and later the dialback key: if edges differ, comparing their answers tells
 * which accounts exist). Each edge publishes digests of both at start — never the secret itself —
 * and compares them with the live edges', so an operator is warned before users notice.
 */
import { createHash, createHmac, X509Certificate } from "node:crypto";
import type { Redis } from "ioredis";
import { RegistryKeys } from "./keys.js";

export interface NodeIdentity {
  /** SHA-256 fingerprint of the leaf certificate */
  certificate: string;
  /** HMAC of a fixed label under the secret: equal secrets give equal digests, nothing more */
  secret: string;
}

export type IdentityPart = keyof NodeIdentity;

export function nodeIdentity(certPem: string, secret: Buffer): NodeIdentity {
  let certificate: string;
  try {
    certificate = new X509Certificate(certPem).fingerprint256;
  } catch {
    certificate = createHash("sha256").update(certPem).digest("hex");
  }
  return { certificate, secret: createHmac("sha256", secret).update("switchboard cluster identity").digest("hex") };
}

/**
 * Records this node's identity and returns, for each other live node, what differs from it
 * (nodes whose alive key expired are ignored and their stale entries removed).
 */
export async function announceIdentity(
  redis: Redis,
  prefix: string,
  nodeId: string,
  identity: NodeIdentity,
): Promise<Array<{ nodeId: string; differs: IdentityPart[] }>> {
  const keys = new RegistryKeys(prefix);
  const all = await redis.hgetall(keys.identities());
  const out: Array<{ nodeId: string; differs: IdentityPart[] }> = [];
  for (const [other, json] of Object.entries(all)) {
    if (other === nodeId) continue;
    if (!(await redis.exists(keys.nodeAlive(other)))) {
      await redis.hdel(keys.identities(), other);
      continue;
    }
    let theirs: Partial<NodeIdentity>;
    try {
      theirs = JSON.parse(json) as Partial<NodeIdentity>;
    } catch {
      continue;
    }
    const differs = (["certificate", "secret"] as const).filter((part) => theirs[part] !== identity[part]);
    if (differs.length > 0) out.push({ nodeId: other, differs });
  }
  await redis.hset(keys.identities(), nodeId, JSON.stringify(identity));
  return out;
}

export async function withdrawIdentity(redis: Redis, prefix: string, nodeId: string): Promise<void> {
  await redis.hdel(new RegistryKeys(prefix).identities(), nodeId);
}
