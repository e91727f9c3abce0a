/**
 * The HTTP listener of every process: /healthz (the process is alive), /readyz (it can take
 * logins: ports reachable, not draining) and the RFC 7395 WebSocket endpoint.
 */
import http from "node:http";
import { listenOn } from "@switchboard/c2s";

export interface HealthSource {
  /** undefined when ready; otherwise the reason, shown in the /readyz body */
  notReadyReason(): Promise<string | undefined>;
}

export async function startHttp(bind: string, port: number, health: HealthSource): Promise<{ server: http.Server; port: number; close(): Promise<void> }> {
  const server = http.createServer(async (req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { allow: "GET, HEAD" }).end();
      return;
    }
    if (path === "/healthz") {
      res.writeHead(200, { "content-type": "text/plain" }).end("ok\n");
      return;
    }
    if (path === "/readyz") {
      const reason = await health.notReadyReason().catch((err: Error) => `health check failed: ${err.message}`);
      if (reason) res.writeHead(503, { "content-type": "text/plain" }).end(`not ready: ${reason}\n`);
      else res.writeHead(200, { "content-type": "text/plain" }).end("ready\n");
      return;
    }
    res.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
  });
  server.keepAliveTimeout = 5_000;
  const bound = await listenOn(server, bind, port, "http.port");
  return {
    server,
    port: bound,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
