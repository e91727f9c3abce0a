/**
 * Load only ever goes to this machine: the tool measures local servers, and pointing thousands of
 * connections at someone else's host is an attack, not a benchmark.
 */
import net from "node:net";

export class NotLoopbackError extends Error {
  override name = "NotLoopbackError";
}

/** 127.0.0.0/8 or ::1, as an IP literal (host names are not resolved, so they cannot sneak out). */
export function isLoopbackAddress(host: string): boolean {
  if (net.isIPv4(host)) return host.startsWith("127.");
  if (net.isIPv6(host)) return host === "::1" || /^(0{0,4}:){7}0{0,3}1$/.test(host) || /^::ffff:127\./i.test(host);
  return false;
}

export function assertLoopback(host: string): void {
  if (!isLoopbackAddress(host)) {
    throw new NotLoopbackError(`refusing to load ${host}: only loopback addresses (127.0.0.0/8, ::1) are allowed; this tool is for local measurement only`);
  }
}
