/**
 * XEP-0199 §3 (server-to-client ping): ask a client whether it is still there. The request
 * goes through host.request, which times out on its own, so a client that never answers
 * costs one timer and blocks nothing else.
 */
import { IqTimeoutError, type Host } from "@switchboard/core";
import { NS_PING, parseJid, x } from "@switchboard/xml";

/**
 * Pings a bound resource. Resolves true when the client answered in time. Any answer counts,
 * including an error: XEP-0199 §3 lets a client that does not implement ping reply
 * <service-unavailable/>, which still proves the connection is alive. An error produced by
 * the router because the resource is gone is told apart by checking the registry.
 */
export async function pingClient(host: Host, fullJid: string, timeoutMs: number): Promise<boolean> {
  const to = parseJid(fullJid);
  if (!(await host.registry.get(to.full))) return false;
  let answer;
  try {
    answer = await host.request(to, x("iq", { type: "get" }, x("ping", { xmlns: NS_PING })), timeoutMs);
  } catch (err) {
    if (err instanceof IqTimeoutError) return false;
    throw err;
  }
  if (answer.attrs.type === "result") return true;
  return (await host.registry.get(to.full)) !== undefined;
}
