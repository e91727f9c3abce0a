/**
 * GET /metrics on the HTTP port: the process's metrics as Prometheus text, answered only to
 * clients in `metrics.allowCidrs` (loopback and the private ranges by default), so an
 * in-cluster Prometheus scrapes while the public side of the same port does not leak them.
 * Behind a proxy (`http.trustForwardedFor`) the client is the one the proxy names, so the
 * proxy's own private address does not open the door to everyone it forwards.
 */
import { BlockList } from "node:net";
import type { IncomingMessage } from "node:http";
import { lastForwardedFor } from "@switchboard/c2s";
import { normaliseIp } from "@switchboard/stream";
import { parseCidr } from "../config-values.js";
import type { HttpRoute } from "../http.js";
import type { OtelMetrics } from "./otel-metrics.js";


export function allowList(cidrs: readonly string[]): (ip: string) => boolean {
  const list = new BlockList();
  for (const text of cidrs) {
    const cidr = parseCidr(text);
    if (!cidr) throw new Error(`metrics.allowCidrs: "${text}" is not a CIDR block`);
    list.addSubnet(cidr.address, cidr.prefix, cidr.family);
  }
  return (ip) => {
    const family = ip.includes(":") ? "ipv6" : "ipv4";
    try {
      return list.check(ip, family);
    } catch {
      return false; // not an address at all
    }
  };
}

export function metricsRoute(metrics: OtelMetrics, opts: { allowCidrs: readonly string[]; trustForwardedFor: boolean }): HttpRoute {
  const allowed = allowList(opts.allowCidrs);
  const clientOf = (req: IncomingMessage) => (opts.trustForwardedFor ? lastForwardedFor(req) : undefined) ?? normaliseIp(req.socket.remoteAddress ?? "");
  return {
    path: "/metrics",
    methods: ["GET", "HEAD"],
    async handle(req, res) {
      const client = clientOf(req);
      if (!allowed(client)) {
        res.writeHead(403, { "content-type": "text/plain" }).end(`forbidden: ${client} is not in metrics.allowCidrs\n`);
        return;
      }
      const text = await metrics.prometheusText();
      res.writeHead(200, { "content-type": "text/plain; version=0.0.4; charset=utf-8" }).end(req.method === "HEAD" ? undefined : text);
    },
  };
}
