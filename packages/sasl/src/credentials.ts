/**
 * Salted SCRAM credentials (RFC 5802 §3): the only password material we ever store. The same
 * material serves SCRAM-SHA-1, SCRAM-SHA-256 and, by recomputing StoredKey, PLAIN.
 */
import { pbkdf2, pbkdf2Sync, randomBytes, timingSafeEqual } from "node:crypto";
import { promisify } from "node:util";
import { SCRAM_HASHES, keysFromSaltedPassword, type ScramHash, type ScramMechanismName } from "./scram-crypto.js";
import { saslPrep } from "./saslprep.js";
import type { AccountCredentials, ScramCredential } from "./types.js";

/** RFC 7677 §4 recommends at least 4096 iterations. */
export const DEFAULT_ITERATIONS = 4096;
const SALT_BYTES = 16;

export interface DeriveCredentialsOptions {
  iterations?: number;
  /** Fixed salt for both hashes (tests, known vectors); by default each hash gets its own random salt. */
  salt?: Buffer;
}

const pbkdf2Async = promisify(pbkdf2);

function checkIterations(iterations: number): void {
  if (!Number.isSafeInteger(iterations) || iterations < 1) {
    throw new RangeError(`SCRAM iteration count must be a positive integer, got ${iterations}`);
  }
}

function toCredential(hash: ScramHash, salt: Buffer, iterations: number, saltedPassword: Buffer): ScramCredential {
  const { storedKey, serverKey } = keysFromSaltedPassword(hash, saltedPassword);
  return {
    salt: salt.toString("base64"),
    iterations,
    storedKey: storedKey.toString("base64"),
    serverKey: serverKey.toString("base64"),
  };
}

/**
 * Derives SCRAM material for both hashes with pbkdf2Sync: SaltedPassword = Hi(Normalize(password),
 * salt, i) (RFC 5802 §2.2). Blocks the event loop for the duration; prefer the async form in a server.
 * Throws SaslPrepError when the password holds prohibited characters.
 */
export function deriveCredentials(password: string, opts: DeriveCredentialsOptions = {}): AccountCredentials {
  const iterations = opts.iterations ?? DEFAULT_ITERATIONS;
  checkIterations(iterations);
  const normalised = saslPrep(password);
  const derive = (name: ScramMechanismName): ScramCredential => {
    const hash = SCRAM_HASHES[name];
    const salt = opts.salt ?? randomBytes(SALT_BYTES);
    return toCredential(hash, salt, iterations, pbkdf2Sync(normalised, salt, iterations, hash.length, hash.digest));
  };
  return { "SCRAM-SHA-1": derive("SCRAM-SHA-1"), "SCRAM-SHA-256": derive("SCRAM-SHA-256") };
}

/** Same result as deriveCredentials, computed on the libuv thread pool (bulk import, registration). */
export async function deriveCredentialsAsync(password: string, opts: DeriveCredentialsOptions = {}): Promise<AccountCredentials> {
  const iterations = opts.iterations ?? DEFAULT_ITERATIONS;
  checkIterations(iterations);
  const normalised = saslPrep(password);
  const derive = async (name: ScramMechanismName): Promise<ScramCredential> => {
    const hash = SCRAM_HASHES[name];
    const salt = opts.salt ?? randomBytes(SALT_BYTES);
    return toCredential(hash, salt, iterations, await pbkdf2Async(normalised, salt, iterations, hash.length, hash.digest));
  };
  const [sha1, sha256] = await Promise.all([derive("SCRAM-SHA-1"), derive("SCRAM-SHA-256")]);
  return { "SCRAM-SHA-1": sha1, "SCRAM-SHA-256": sha256 };
}

/** The credential PLAIN checks against: SHA-256 is the stronger of the two we keep. */
const PLAIN_CHECK: ScramMechanismName = "SCRAM-SHA-256";

function prepOrUndefined(password: string): string | undefined {
  try {
    return saslPrep(password);
  } catch {
    return undefined;
  }
}

function storedKeyMatches(hash: ScramHash, credential: ScramCredential, saltedPassword: Buffer): boolean {
  const expected = Buffer.from(credential.storedKey, "base64");
  const actual = keysFromSaltedPassword(hash, saltedPassword).storedKey;
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}

/**
 * Checks a plaintext password (SASL PLAIN, RFC 4616) by recomputing the SCRAM-SHA-256 StoredKey
 * with the stored salt and iteration count and comparing in constant time. Synchronous: blocks
 * for one pbkdf2 run; the PLAIN mechanism uses verifyPasswordAsync instead.
 */
export function verifyPassword(creds: AccountCredentials, password: string): boolean {
  const normalised = prepOrUndefined(password);
  if (normalised === undefined) return false;
  const hash = SCRAM_HASHES[PLAIN_CHECK];
  const credential = creds[PLAIN_CHECK];
  const salted = pbkdf2Sync(normalised, Buffer.from(credential.salt, "base64"), credential.iterations, hash.length, hash.digest);
  return storedKeyMatches(hash, credential, salted);
}

/** verifyPassword on the libuv thread pool, so a PLAIN login does not stall other connections. */
export async function verifyPasswordAsync(creds: AccountCredentials, password: string): Promise<boolean> {
  const normalised = prepOrUndefined(password);
  if (normalised === undefined) return false;
  const hash = SCRAM_HASHES[PLAIN_CHECK];
  const credential = creds[PLAIN_CHECK];
  const salted = await pbkdf2Async(normalised, Buffer.from(credential.salt, "base64"), credential.iterations, hash.length, hash.digest);
  return storedKeyMatches(hash, credential, salted);
}
