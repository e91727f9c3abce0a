/**
 * Stand-in credentials for usernames that have no account, so that SCRAM and PLAIN exchanges for
 * them look exactly like those of a real user with a wrong password (RFC 5802 §9 suggests this:
 * the salt must not reveal whether an account exists). The salt is deterministic per username —
 * an attacker who asks twice must see the same salt, as for a real account — and derives from a
 * secret, so it cannot be predicted offline.
 */
import { createHmac, randomBytes } from "node:crypto";
import { SCRAM_HASHES, type ScramMechanismName } from "./scram-crypto.js";
import type { ScramCredential } from "./types.js";

/**
 * Per-process secret used when the caller gives none. In a cluster, edges of one cluster should
 * share a secret (MechanismOptions.unknownUserSecret), or an attacker comparing salts across
 * edges could tell unknown users from real ones.
 */
const PROCESS_SECRET = randomBytes(32);

export function unknownUserCredential(
  mechanism: ScramMechanismName,
  username: string,
  iterations: number,
  secret: Buffer = PROCESS_SECRET,
): ScramCredential {
  const derive = (purpose: string, length: number): string =>
    createHmac("sha256", secret).update(`${purpose}\0${mechanism}\0${username}`).digest().subarray(0, length).toString("base64");
  const keyLength = SCRAM_HASHES[mechanism].length;
  return {
    salt: derive("salt", 16),
    iterations,
    storedKey: derive("stored-key", keyLength),
    serverKey: derive("server-key", keyLength),
  };
}
