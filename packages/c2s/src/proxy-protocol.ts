/**
 * PROXY protocol (HAProxy's spec, versions 1 and 2) on the client ports. Behind a TCP load
 * balancer every connection comes from the balancer's address, so the per-IP limits (failed
 * logins, registrations) would throttle every user at once after one client misbehaves. With
 * `c2s.proxyProtocol` on, the balancer prefixes each connection with a header naming the client's
 * address, which the edge reads before any XMPP (or TLS) byte.
 *
 * A connection without a valid header is closed: with the option on, the port must only be
 * reachable through the balancer, and accepting a bare connection would let anyone pick their
 * address. v2 LOCAL (the balancer's own health checks) and v1 UNKNOWN keep the socket's address.
 */
import type { Socket } from "node:net";

/** v2 header signature: \r\n\r\n\0\r\nQUIT\n */
const V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
const V1_PREFIX = Buffer.from("PROXY ", "latin1");
/** spec: a v1 line is at most 107 bytes including CRLF */
const V1_MAX = 107;
/** v2: 16-byte fixed part plus addresses and TLVs; balancers send far less than this */
const V2_MAX = 16 + 1024;

export class ProxyHeaderError extends Error {
  override name = "ProxyHeaderError";
}

export type ProxyHeaderResult =
  /** need more bytes */
  | { done: false }
  /** header parsed: `address` undefined means keep the socket's own (LOCAL, UNKNOWN) */
  | { done: true; address: string | undefined; headerBytes: number };

/** Parses a PROXY header at the start of `buf`; throws ProxyHeaderError when it cannot be one. */
export function parseProxyHeader(buf: Buffer): ProxyHeaderResult {
  if (buf.length === 0) return { done: false };
  if (startsLike(buf, V2_SIGNATURE)) {
    if (buf.length < 16) return { done: false };
    return parseV2(buf);
  }
  if (startsLike(buf, V1_PREFIX)) return parseV1(buf);
  throw new ProxyHeaderError("the connection did not start with a PROXY protocol header");
}

/** True while `buf` could still be (or already is) the start of `prefix`. */
function startsLike(buf: Buffer, prefix: Buffer): boolean {
  const n = Math.min(buf.length, prefix.length);
  return buf.subarray(0, n).equals(prefix.subarray(0, n));
}

function parseV1(buf: Buffer): ProxyHeaderResult {
  if (buf.length < V1_PREFIX.length) return { done: false };
  const end = buf.indexOf("\r\n", 0, "latin1");
  if (end === -1) {
    if (buf.length >= V1_MAX) throw new ProxyHeaderError("PROXY v1 line longer than 107 bytes");
    return { done: false };
  }
  if (end + 2 > V1_MAX) throw new ProxyHeaderError("PROXY v1 line longer than 107 bytes");
  const parts = buf.toString("latin1", 0, end).split(" ");
  const headerBytes = end + 2;
  if (parts[1] === "UNKNOWN") return { done: true, address: undefined, headerBytes };
  if (parts.length !== 6 || (parts[1] !== "TCP4" && parts[1] !== "TCP6")) {
    throw new ProxyHeaderError("malformed PROXY v1 line");
  }
  const [, family, source, , sourcePort, destPort] = parts as [string, string, string, string, string, string];
  if (!validPort(sourcePort) || !validPort(destPort)) throw new ProxyHeaderError("malformed port in PROXY v1 line");
  if (family === "TCP4" ? !isIPv4(source) : !isIPv6(source)) throw new ProxyHeaderError(`malformed ${family} address in PROXY v1 line`);
  return { done: true, address: family === "TCP6" ? source.toLowerCase() : source, headerBytes };
}

function parseV2(buf: Buffer): ProxyHeaderResult {
  const versionCommand = buf[12]!;
  if (versionCommand >> 4 !== 2) throw new ProxyHeaderError("unsupported PROXY protocol version");
  const command = versionCommand & 0x0f;
  if (command > 1) throw new ProxyHeaderError("unknown PROXY v2 command");
  const length = buf.readUInt16BE(14);
  if (16 + length > V2_MAX) throw new ProxyHeaderError("PROXY v2 header too long");
  if (buf.length < 16 + length) return { done: false };
  const headerBytes = 16 + length;
  // LOCAL: the balancer speaking for itself (health checks); the addresses, if any, are ignored.
  if (command === 0) return { done: true, address: undefined, headerBytes };
  const family = buf[13]! >> 4;
  const body = buf.subarray(16, 16 + length);
  if (family === 1) {
    if (length < 12) throw new ProxyHeaderError("PROXY v2 IPv4 block too short");
    return { done: true, address: [...body.subarray(0, 4)].join("."), headerBytes };
  }
  if (family === 2) {
    if (length < 36) throw new ProxyHeaderError("PROXY v2 IPv6 block too short");
    const groups: string[] = [];
    for (let i = 0; i < 16; i += 2) groups.push(body.readUInt16BE(i).toString(16));
    return { done: true, address: compressIPv6(groups), headerBytes };
  }
  // AF_UNSPEC or AF_UNIX: no client IP to take.
  return { done: true, address: undefined, headerBytes };
}

function validPort(raw: string): boolean {
  if (!/^(0|[1-9][0-9]{0,4})$/.test(raw)) return false;
  return Number(raw) <= 65535;
}

function isIPv4(raw: string): boolean {
  const parts = raw.split(".");
  return parts.length === 4 && parts.every((p) => /^(0|[1-9][0-9]{0,2})$/.test(p) && Number(p) <= 255);
}

function isIPv6(raw: string): boolean {
  return /^[0-9a-fA-F:.]{2,45}$/.test(raw) && raw.includes(":");
}

/** RFC 5952 text form: the longest run of two or more zero groups becomes "::". */
function compressIPv6(groups: string[]): string {
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < groups.length; ) {
    if (groups[i] !== "0") {
      i++;
      continue;
    }
    let j = i;
    while (j < groups.length && groups[j] === "0") j++;
    if (j - i > bestLen && j - i >= 2) [bestStart, bestLen] = [i, j - i];
    i = j;
  }
  if (bestStart === -1) return groups.join(":");
  return `${groups.slice(0, bestStart).join(":")}::${groups.slice(bestStart + bestLen).join(":")}`;
}

/**
 * Reads the header off a fresh socket, puts back whatever followed it, and resolves with the
 * client's address (or the socket's own for LOCAL / UNKNOWN). Rejects, leaving the socket to the
 * caller to destroy, on a malformed header, on close, or when none is complete within timeoutMs.
 */
export function readProxyHeader(socket: Socket, timeoutMs: number): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    let received: Buffer = Buffer.alloc(0);
    const finish = (err: Error | undefined, address?: string) => {
      clearTimeout(timer);
      socket.off("data", onData);
      socket.off("close", onClose);
      socket.off("error", onError);
      if (err) reject(err);
      else resolve(address);
    };
    const onData = (chunk: Buffer) => {
      received = received.length === 0 ? chunk : Buffer.concat([received, chunk]);
      let result: ProxyHeaderResult;
      try {
        result = parseProxyHeader(received);
      } catch (err) {
        finish(err as Error);
        return;
      }
      if (!result.done) return;
      socket.pause();
      const rest = received.subarray(result.headerBytes);
      if (rest.length > 0) socket.unshift(rest);
      finish(undefined, result.address ?? socket.remoteAddress);
    };
    const onClose = () => finish(new ProxyHeaderError("connection closed before the PROXY header"));
    const onError = (err: Error) => finish(err);
    const timer = setTimeout(() => finish(new ProxyHeaderError(`no PROXY header within ${timeoutMs} ms`)), timeoutMs);
    socket.on("data", onData);
    socket.on("close", onClose);
    socket.on("error", onError);
  });
}
