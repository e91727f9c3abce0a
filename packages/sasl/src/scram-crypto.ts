/**
 * The SCRAM primitives of RFC 5802 §2.2 / §3 for the two hashes we offer (SCRAM-SHA-1,
 * SCRAM-SHA-256 per RFC 7677). Shared by credential derivation and the server mechanism.
 */
import { createHash, createHmac } from "node:crypto";
import type { AccountCredentials } from "./types.js";

export type ScramMechanismName = keyof AccountCredentials;

export const SCRAM_MECHANISM_NAMES: readonly ScramMechanismName[] = ["SCRAM-SHA-256", "SCRAM-SHA-1"];

export interface ScramHash {
  /** node:crypto digest name */
  readonly digest: "sha1" | "sha256";
  /** output length in bytes; also the length of ClientProof */
  readonly length: number;
}

export const SCRAM_HASHES: Record<ScramMechanismName, ScramHash> = {
  "SCRAM-SHA-1": { digest: "sha1", length: 20 },
  "SCRAM-SHA-256": { digest: "sha256", length: 32 },
};

export function isScramMechanismName(name: string): name is ScramMechanismName {
  return Object.hasOwn(SCRAM_HASHES, name);
}

/** The -PLUS variants (RFC 5802 §4): the same hash and credentials, with channel binding. */
export type ScramPlusMechanismName = `${ScramMechanismName}-PLUS`;

export const SCRAM_PLUS_MECHANISM_NAMES: readonly ScramPlusMechanismName[] = SCRAM_MECHANISM_NAMES.map((n) => `${n}-PLUS` as const);

/** "SCRAM-SHA-256-PLUS" → { base: "SCRAM-SHA-256", plus: true }; undefined for any other name. */
export function scramVariant(name: string): { base: ScramMechanismName; plus: boolean } | undefined {
  if (isScramMechanismName(name)) return { base: name, plus: false };
  if (name.endsWith("-PLUS") && isScramMechanismName(name.slice(0, -5))) return { base: name.slice(0, -5) as ScramMechanismName, plus: true };
  return undefined;
}

export function hmac(hash: ScramHash, key: Buffer, data: string | Buffer): Buffer {
  return createHmac(hash.digest, key).update(data).digest();
}

export function digest(hash: ScramHash, data: Buffer): Buffer {
  return createHash(hash.digest).update(data).digest();
}

/** StoredKey and ServerKey from SaltedPassword (RFC 5802 §3). */
export function keysFromSaltedPassword(hash: ScramHash, saltedPassword: Buffer): { storedKey: Buffer; serverKey: Buffer } {
  const clientKey = hmac(hash, saltedPassword, "Client Key");
  return { storedKey: digest(hash, clientKey), serverKey: hmac(hash, saltedPassword, "Server Key") };
}

export function xor(a: Buffer, b: Buffer): Buffer {
  const out = Buffer.alloc(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i]! ^ b[i]!;
  return out;
}
