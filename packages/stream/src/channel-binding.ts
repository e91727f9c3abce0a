/**
 * TLS channel bindings a server can compute, for SCRAM -PLUS (RFC 5802 §6) and their XEP-0440
 * advertisement:
 * - `tls-exporter` (RFC 9266 §2): 32 bytes of the TLS exporter with the label
 *   "EXPORTER-Channel-Binding" and no context. Offered on TLS 1.3 only: on TLS 1.2 it is safe
 *   only with the extended master secret (RFC 9266 §3), which Node does not let us check.
 * - `tls-server-end-point` (RFC 5929 §4.1): the hash of our certificate, with the hash of its
 *   signature algorithm, SHA-256 instead of MD5 or SHA-1. Algorithms that name no single hash
 *   (RSASSA-PSS with parameters, Ed25519, Ed448) get none, so the type is then not offered.
 * - `tls-unique` (RFC 5929 §3): the first Finished message of the handshake. Advertised on TLS
 *   1.2 only, where it is defined. COMPAT: on TLS 1.3 it is accepted but not advertised, as the
 *   client's Finished: CPython (so slixmpp 1.8, poezio) offers nothing but tls-unique and computes
 *   it that way on TLS 1.3; refusing would lock those clients out of SCRAM altogether (their
 *   fallback to plain SCRAM says "y", a downgrade once we offer -PLUS). That value still depends
 *   on the whole handshake, so it binds at least as much as no binding at all.
 */
import { createHash } from "node:crypto";
import type { TLSSocket } from "node:tls";

export type TlsChannelBindingType = "tls-exporter" | "tls-server-end-point" | "tls-unique";

/** The channel bindings of one TLS connection (the shape of @switchboard/sasl's ChannelBindings). */
export interface TlsChannelBindings {
  /** the types to advertise (XEP-0440), in order of preference */
  readonly types: readonly TlsChannelBindingType[];
  /** the data of one type, or undefined when this channel cannot produce it (also for types accepted but not advertised) */
  data(type: string): Buffer | undefined;
}

/** RFC 9266 §2 */
const EXPORTER_LABEL = "EXPORTER-Channel-Binding";
const EXPORTER_LENGTH = 32;
const NO_CONTEXT = Buffer.alloc(0);

export function tlsChannelBindings(socket: TLSSocket): TlsChannelBindings {
  const tls13 = socket.getProtocol() === "TLSv1.3";
  const exporter = tls13;
  let endPoint: Buffer | null | undefined;
  const serverEndPoint = (): Buffer | undefined => {
    if (endPoint === undefined) endPoint = serverEndPointHash(socket) ?? null;
    return endPoint ?? undefined;
  };
  const types: TlsChannelBindingType[] = [];
  if (exporter) types.push("tls-exporter");
  if (serverEndPoint()) types.push("tls-server-end-point");
  if (!tls13) types.push("tls-unique");
  return {
    types,
    data(type) {
      // RFC 9266 §2 says "no context"; in TLS 1.3 that is the same as an empty one (RFC 8446 §7.5).
      if (type === "tls-exporter" && exporter) return socket.exportKeyingMaterial(EXPORTER_LENGTH, EXPORTER_LABEL, NO_CONTEXT);
      if (type === "tls-server-end-point") return serverEndPoint();
      if (type === "tls-unique") return tlsUnique(socket);
      return undefined;
    },
  };
}

/**
 * RFC 5929 §3.1: the first Finished of the latest handshake: the client's in a full handshake,
 * ours in an abbreviated (resumed) one.
 */
function tlsUnique(socket: TLSSocket): Buffer | undefined {
  const finished = socket.isSessionReused() ? socket.getFinished() : socket.getPeerFinished();
  return finished && finished.length > 0 ? finished : undefined;
}

/** RFC 5929 §4.1: H(our certificate), H from its signatureAlgorithm; undefined when none applies. */
export function serverEndPointHash(socket: TLSSocket): Buffer | undefined {
  const der = (socket.getCertificate() as { raw?: Buffer } | null)?.raw;
  if (!der) return undefined;
  const hash = endPointHashOf(der);
  return hash ? createHash(hash).update(der).digest() : undefined;
}

/** signatureAlgorithm OID → the hash RFC 5929 §4.1 prescribes (MD5 and SHA-1 become SHA-256). */
const HASH_OF_SIGNATURE: Readonly<Record<string, string>> = {
  "1.2.840.113549.1.1.4": "sha256", // md5WithRSAEncryption
  "1.2.840.113549.1.1.5": "sha256", // sha1WithRSAEncryption
  "1.2.840.113549.1.1.11": "sha256",
  "1.2.840.113549.1.1.12": "sha384",
  "1.2.840.113549.1.1.13": "sha512",
  "1.2.840.113549.1.1.14": "sha224",
  "1.2.840.10045.4.1": "sha256", // ecdsa-with-SHA1
  "1.2.840.10045.4.3.1": "sha224",
  "1.2.840.10045.4.3.2": "sha256",
  "1.2.840.10045.4.3.3": "sha384",
  "1.2.840.10045.4.3.4": "sha512",
};

/** The hash for a DER certificate, or undefined (unknown algorithm, or not a certificate). */
export function endPointHashOf(der: Buffer): string | undefined {
  try {
    // Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm SEQUENCE { OID, … }, signature }
    const cert = readTlv(der, 0, 0x30);
    const tbs = readTlv(der, cert.start, 0x30);
    const algorithm = readTlv(der, tbs.end, 0x30);
    const oid = readTlv(der, algorithm.start, 0x06);
    return HASH_OF_SIGNATURE[decodeOid(der.subarray(oid.start, oid.end))];
  } catch {
    return undefined;
  }
}

/** One DER tag-length-value at `at` with the expected tag: where its content starts and ends. */
function readTlv(der: Buffer, at: number, tag: number): { start: number; end: number } {
  if (der[at] !== tag) throw new Error("unexpected DER tag");
  let length = der[at + 1]!;
  let start = at + 2;
  if (length & 0x80) {
    const bytes = length & 0x7f;
    if (bytes === 0 || bytes > 4) throw new Error("unsupported DER length");
    length = 0;
    for (let i = 0; i < bytes; i++) length = length * 256 + der[start + i]!;
    start += bytes;
  }
  if (start + length > der.length) throw new Error("truncated DER");
  return { start, end: start + length };
}

function decodeOid(bytes: Buffer): string {
  const arcs: number[] = [];
  let value = 0;
  for (const byte of bytes) {
    value = value * 128 + (byte & 0x7f);
    if (!(byte & 0x80)) {
      if (arcs.length === 0) arcs.push(value < 80 ? Math.floor(value / 40) : 2, value < 80 ? value % 40 : value - 80);
      else arcs.push(value);
      value = 0;
    }
  }
  return arcs.join(".");
}
