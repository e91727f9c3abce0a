/**
 * Client side of SASL SCRAM-SHA-1 (RFC 5802 §3, §5) with no channel binding ("n,,"), as an XMPP
 * client runs it (RFC 6120 §6.4). The salted password (PBKDF2) is derived off the main thread and
 * cached per (password, salt, iterations), as real clients such as Conversations cache it: the
 * load generator must not spend its own CPU on key stretching while it measures a server.
 */
import { createHash, createHmac, pbkdf2, randomBytes, timingSafeEqual } from "node:crypto";
import { saslPrep } from "@switchboard/sasl";

/** bounds what a hostile or misconfigured server can make us compute (RFC 5802 §5.1 "i") */
const MAX_ITERATIONS = 1_000_000;
const SALTED_CACHE_LIMIT = 100_000;
const saltedCache = new Map<string, Promise<Buffer>>();

export class ScramClientError extends Error {
  override name = "ScramClientError";
}

export interface ScramClient {
  /** base64 payload of <auth mechanism='SCRAM-SHA-1'> */
  readonly initial: string;
  /** answers the server-first-message (base64 in, base64 out) */
  respond(challengeB64: string): Promise<string>;
  /** checks the server-final-message (base64 "v=..."); throws when the server signature is wrong */
  verify(finalB64: string): void;
}

export function scramSha1Client(username: string, password: string): ScramClient {
  const clientNonce = randomBytes(18).toString("base64");
  const clientFirstBare = `n=${saslName(username)},r=${clientNonce}`;
  let expectedServerSignature: Buffer | undefined;
  return {
    initial: Buffer.from(`n,,${clientFirstBare}`).toString("base64"),
    async respond(challengeB64) {
      const serverFirst = Buffer.from(challengeB64, "base64").toString("utf8");
      const attrs = parseAttributes(serverFirst);
      const nonce = attrs.get("r");
      const salt = attrs.get("s");
      const iterations = Number(attrs.get("i"));
      if (nonce === undefined || !nonce.startsWith(clientNonce) || nonce.length === clientNonce.length) {
        throw new ScramClientError("server nonce does not extend the client nonce");
      }
      if (salt === undefined || !Number.isInteger(iterations) || iterations < 1 || iterations > MAX_ITERATIONS) {
        throw new ScramClientError(`bad server-first-message: ${serverFirst.slice(0, 100)}`);
      }
      const salted = await saltedPassword(saslPrep(password), salt, iterations);
      const clientKey = hmac(salted, "Client Key");
      const storedKey = createHash("sha1").update(clientKey).digest();
      // "biws" = base64("n,,"): no channel binding, no authzid (RFC 5802 §7 cbind-input)
      const finalWithoutProof = `c=biws,r=${nonce}`;
      const authMessage = `${clientFirstBare},${serverFirst},${finalWithoutProof}`;
      const signature = hmac(storedKey, authMessage);
      for (let i = 0; i < clientKey.length; i++) clientKey[i]! ^= signature[i]!;
      expectedServerSignature = hmac(hmac(salted, "Server Key"), authMessage);
      return Buffer.from(`${finalWithoutProof},p=${clientKey.toString("base64")}`).toString("base64");
    },
    verify(finalB64) {
      const attrs = parseAttributes(Buffer.from(finalB64, "base64").toString("utf8"));
      const v = attrs.get("v");
      if (expectedServerSignature === undefined || v === undefined) throw new ScramClientError("no server signature");
      const got = Buffer.from(v, "base64");
      if (got.length !== expectedServerSignature.length || !timingSafeEqual(got, expectedServerSignature)) {
        throw new ScramClientError("server signature mismatch");
      }
    },
  };
}

/** RFC 5802 §5.1: "=" and "," in a saslname are escaped as "=3D" and "=2C". */
function saslName(name: string): string {
  return saslPrep(name).replace(/=/g, "=3D").replace(/,/g, "=2C");
}

function parseAttributes(message: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of message.split(",")) {
    if (part.length >= 2 && part[1] === "=") out.set(part[0]!, part.slice(2));
  }
  return out;
}

function hmac(key: Buffer, data: string): Buffer {
  return createHmac("sha1", key).update(data).digest();
}

function saltedPassword(password: string, saltB64: string, iterations: number): Promise<Buffer> {
  const key = `${iterations}:${saltB64}:${password}`;
  let pending = saltedCache.get(key);
  if (pending === undefined) {
    if (saltedCache.size >= SALTED_CACHE_LIMIT) saltedCache.clear();
    pending = new Promise<Buffer>((resolve, reject) =>
      pbkdf2(password, Buffer.from(saltB64, "base64"), iterations, 20, "sha1", (err, out) => (err ? reject(err) : resolve(out))),
    );
    pending.catch(() => saltedCache.delete(key));
    saltedCache.set(key, pending);
  }
  return pending;
}
