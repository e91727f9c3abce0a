/**
 * The HTTP listener of every process: /healthz (the process is alive), /readyz (it can take
 * logins: ports reachable, not draining), the RFC 7395 WebSocket endpoint (the edge role
 * attaches it to the upgrade event) and the routes other parts mount (`route()`): /metrics,
 * the admin API. A route says which methods it takes; anything else is 405 with `Allow`.
 */
import http from "node:http";
import { listenOn } from "@switchboard/c2s";

export interface HealthSource {
  /** undefined when ready; otherwise the reason, shown in the /readyz body */
  notReadyReason(): Promise<string | undefined>;
}

export type HttpHandler = (req: http.IncomingMessage, res: http.ServerResponse, path: string) => void | Promise<void>;

export interface HttpRoute {
  /** exact path, or a prefix ending in "/" that matches everything below it */
  path: string;
  methods: readonly string[];
  handle: HttpHandler;
}

export interface RunningHttp {
  server: http.Server;
  port: number;
  /** the request handler with every mounted route, for a second listener (https.ts, http.tlsPort) */
  handler: http.RequestListener;
  /** Mounts a route (later mounts of the same path replace earlier ones). */
  route(route: HttpRoute): void;
  close(): Promise<void>;
}

export async function startHttp(bind: string, port: number, health: HealthSource): Promise<RunningHttp> {
  const routes = new Map<string, HttpRoute>();
  routes.set("/healthz", {
    path: "/healthz",
    methods: ["GET", "HEAD"],
    handle: (_req, res) => void res.writeHead(200, { "content-type": "text/plain" }).end("ok\n"),
  });
  routes.set("/readyz", {
    path: "/readyz",
    methods: ["GET", "HEAD"],
    handle: async (_req, res) => {
      const reason = await health.notReadyReason().catch((err: Error) => `health check failed: ${err.message}`);
      if (reason) res.writeHead(503, { "content-type": "text/plain" }).end(`not ready: ${reason}\n`);
      else res.writeHead(200, { "content-type": "text/plain" }).end("ready\n");
    },
  });
  const find = (path: string): HttpRoute | undefined => {
    const exact = routes.get(path);
    if (exact) return exact;
    for (const r of routes.values()) if (r.path.endsWith("/") && path.startsWith(r.path)) return r;
    return undefined;
  };
  const handler: http.RequestListener = (req, res) => {
    const path = (req.url ?? "/").split("?")[0]!;
    const route = find(path);
    if (!route) {
      res.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
      return;
    }
    if (!route.methods.includes(req.method ?? "")) {
      res.writeHead(405, { allow: route.methods.join(", ") }).end();
      return;
    }
    Promise.resolve(route.handle(req, res, path)).catch((err: Error) => {
      if (!res.headersSent) res.writeHead(500, { "content-type": "text/plain" });
      res.end(`internal error: ${err.message}\n`);
    });
  };
  const server = http.createServer(handler);
  server.keepAliveTimeout = 5_000;
  const bound = await listenOn(server, bind, port, "http.port");
  return {
    server,
    port: bound,
    handler,
    route: (r) => void routes.set(r.path, r),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
