/**
 * A SCRAM client for protocol tests (RFC 5802 §3, §6), written apart from the server's code:
 * SHA-1 or SHA-256, any gs2-header, and channel-binding data computed by the test from its own
 * end of the TLS connection, so a test can bind correctly, wrongly, or not at all.
 */
import { createHash, createHmac, pbkdf2Sync, randomBytes } from "node:crypto";
import type { TLSSocket } from "node:tls";

export interface ScramTestClient {
  /** client-first-message (raw bytes) */
  first(): Buffer;
  /** client-final-message for the server-first-message; `cbind` overrides what c= carries */
  final(serverFirst: Buffer, cbind?: Buffer): Buffer;
  /** the v= the server must answer with */
  readonly expectedServerFinal: string;
}

export function scramClient(mechanism: string, username: string, password: string, opts: { gs2Header?: string; cbData?: Buffer } = {}): ScramTestClient {
  const hash = mechanism.startsWith("SCRAM-SHA-1") ? "sha1" : "sha256";
  const gs2Header = opts.gs2Header ?? "n,,";
  const cbData = opts.cbData ?? Buffer.alloc(0);
  const bare = `n=${username},r=${randomBytes(12).toString("base64")}`;
  let expected = "";
  return {
    first: () => Buffer.from(gs2Header + bare),
    final(serverFirstRaw, cbind = Buffer.concat([Buffer.from(gs2Header), cbData])) {
      const serverFirst = serverFirstRaw.toString();
      const attrs = Object.fromEntries(serverFirst.split(",").map((a) => [a[0], a.slice(2)]));
      const salted = pbkdf2Sync(password, Buffer.from(attrs.s!, "base64"), Number(attrs.i), hash === "sha1" ? 20 : 32, hash);
      const clientKey = createHmac(hash, salted).update("Client Key").digest();
      const storedKey = createHash(hash).update(clientKey).digest();
      const withoutProof = `c=${cbind.toString("base64")},r=${attrs.r}`;
      const authMessage = `${bare},${serverFirst},${withoutProof}`;
      const signature = createHmac(hash, storedKey).update(authMessage).digest();
      const proof = Buffer.from(clientKey.map((b, i) => b ^ signature[i]!));
      const serverKey = createHmac(hash, salted).update("Server Key").digest();
      expected = `v=${createHmac(hash, serverKey).update(authMessage).digest("base64")}`;
      return Buffer.from(`${withoutProof},p=${proof.toString("base64")}`);
    },
    get expectedServerFinal() {
      return expected;
    },
  };
}

/** The channel-binding data of the client's end of a TLS connection (RFC 9266 §2, RFC 5929 §3, §4.1). */
export function clientChannelBinding(socket: TLSSocket, type: "tls-exporter" | "tls-server-end-point" | "tls-unique"): Buffer {
  if (type === "tls-exporter") return socket.exportKeyingMaterial(32, "EXPORTER-Channel-Binding", Buffer.alloc(0));
  // a client's own Finished is the first of a full handshake
  if (type === "tls-unique") return socket.getFinished()!;
  // the servers under test sign their certificates with ECDSA/SHA-256
  return createHash("sha256").update(socket.getPeerX509Certificate()!.raw).digest();
}
