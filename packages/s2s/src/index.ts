/**
 * Federation (RFC 6120 server-to-server, XEP-0220 Server Dialback): the s2s listener and the
 * outbound streams to remote domains, plugged into the router's `route/remote` event.
 */
import type { Host } from "@switchboard/core";
import { DialbackKeys } from "./dialback.js";
import { S2sListener } from "./listener.js";
import type { S2sOptions } from "./options.js";
import { RemoteDomains } from "./remote-domains.js";
import { RemoteResolver } from "./resolve.js";

export type { S2sOptions } from "./options.js";
export { DialbackKeys, NS_DIALBACK } from "./dialback.js";
export { RemoteResolver, ResolveError, type RemoteAddress, type SrvLookup } from "./resolve.js";

export interface Federation {
  /** the bound s2s port */
  port: number;
  remote: RemoteDomains;
  stopAccepting(): void;
  /** closes inbound streams (<system-shutdown/>) and outbound ones; queued stanzas bounce */
  stop(graceMs: number): Promise<void>;
}

export async function startS2s(host: Host, opts: S2sOptions): Promise<Federation> {
  const keys = new DialbackKeys(opts.secret);
  const remote = new RemoteDomains(host, opts, keys, new RemoteResolver(opts.routes, opts.dns));
  const unhook = host.hooks.on("route/remote", (ev) => remote.route(ev));
  const listener = new S2sListener(host, opts, {
    keys,
    verifyKey: (originating, request) => remote.verify(originating, request),
    remoteIsUp: (domain) => remote.remoteIsUp(domain),
  });
  host.metrics.observe("switchboard_s2s_streams", { help: "Server-to-server streams this process holds, by direction", labels: ["direction"] }, () => [
    [listener.size, { direction: "inbound" }],
    [remote.streams().length, { direction: "outbound" }],
  ]);
  let port: number;
  try {
    port = await listener.listen();
  } catch (err) {
    unhook();
    throw err;
  }
  let stopping: Promise<void> | undefined;
  return {
    port,
    remote,
    stopAccepting: () => listener.stopAccepting(),
    stop: (graceMs) =>
      (stopping ??= (async () => {
        unhook();
        await listener.close(graceMs);
        await remote.stop();
      })()),
  };
}
