/**
 * The all-in-one embedded node: every role in one process on embedded backends (SQLite store,
 * in-memory registry, bus and limiter). This entry point is the only place that wires adapters.
 */
import { join } from "node:path";
import { Host, MemoryLimiter, MemorySessionRegistry, MemoryStanzaBus, loadModule, type LoadedModule, type Logger, type Store } from "@switchboard/core";
import { startC2s } from "@switchboard/c2s";
import { defaultModules } from "@switchboard/modules";
import { openSqliteStore } from "@switchboard/store-sqlite";
import type { SwitchboardConfig } from "./config.js";
import { startHttp } from "./http.js";
import { loadOrCreateTlsMaterial } from "./tls.js";
import { loadOrCreateSecret } from "./secret.js";

export interface RunningServer {
  host: Host;
  ports: { c2s: number; c2sTls: number; http: number };
  stop(): Promise<void>;
}

export function storeFile(cfg: SwitchboardConfig): string {
  return join(cfg.dataDir, "switchboard.db");
}

export async function startServer(cfg: SwitchboardConfig, log: Logger, opts: { store?: Store } = {}): Promise<RunningServer> {
  const tlsMaterial = await loadOrCreateTlsMaterial(cfg, log);
  const store = opts.store ?? openSqliteStore(storeFile(cfg));
  const host = new Host({
    domain: cfg.domain,
    nodeId: cfg.nodeId,
    store,
    registry: new MemorySessionRegistry(),
    bus: new MemoryStanzaBus(),
    limiter: new MemoryLimiter(),
    log,
    limits: { offlinePerUser: cfg.limits.offlinePerUser },
  });
  host.start();
  const modules: LoadedModule[] = [];
  for (const [def, options] of defaultModules({ offlinePerUser: cfg.limits.offlinePerUser, registration: cfg.registration })) {
    modules.push(await loadModule(host, def, options));
  }
  let draining = false;
  const c2s = await startC2s(host, {
    bind: cfg.bind,
    port: cfg.c2s.port,
    tlsPort: cfg.c2s.tlsPort,
    tls: tlsMaterial,
    requireTls: cfg.c2s.requireTls,
    parser: { maxStanzaBytes: cfg.limits.maxStanzaBytes, maxDepth: cfg.limits.maxDepth },
    outboundBufferBytes: cfg.limits.outboundBufferBytes,
    handshakeTimeoutMs: cfg.limits.handshakeTimeoutSeconds * 1000,
    authFailuresPerIp: cfg.limits.authFailuresPerIp,
    authFailureWindowMs: cfg.limits.authFailureWindowSeconds * 1000,
    unknownUserSecret: loadOrCreateSecret(cfg.dataDir),
  });
  const http = await startHttp(cfg.bind, cfg.http.port, {
    notReadyReason: async () => (draining ? "draining" : undefined),
  });
  c2s.attachWebSocket(http.server, cfg.http.websocketPath);
  const ports = { ...c2s.ports, http: http.port };
  log.info({ domain: cfg.domain, nodeId: cfg.nodeId, ports, dataDir: cfg.dataDir }, "switchboard started");

  let stopped = false;
  return {
    host,
    ports,
    async stop() {
      if (stopped) return;
      stopped = true;
      draining = true;
      await c2s.close();
      await http.close();
      for (const m of modules.reverse()) m.unload();
      await host.stop();
      await store.close();
      log.info("switchboard stopped");
    },
  };
}
