/**
 * A Switchboard process: the all-in-one embedded node (role "all") or a cluster edge (role
 * "edge"). Same modules, same streams; only the backends differ (backends.ts).
 */
import { Host, loadModule, type LoadedModule, type Logger, type Store } from "@switchboard/core";
import { startC2s } from "@switchboard/c2s";
import { defaultModules } from "@switchboard/modules";
import type { SwitchboardConfig } from "./config.js";
import { openBackends } from "./backends.js";
import { startHttp } from "./http.js";
import { loadOrCreateTlsMaterial } from "./tls.js";
import { loadOrCreateSecret } from "./secret.js";

export interface RunningServer {
  host: Host;
  ports: { c2s: number; c2sTls: number; http: number };
  /** undefined when ready (same as /readyz) */
  notReadyReason(): Promise<string | undefined>;
  stop(): Promise<void>;
}

export async function startServer(cfg: SwitchboardConfig, log: Logger, opts: { store?: Store } = {}): Promise<RunningServer> {
  const tlsMaterial = await loadOrCreateTlsMaterial(cfg, log);
  const backends = await openBackends(cfg, log, opts.store);
  const host = new Host({
    domain: cfg.domain,
    nodeId: cfg.nodeId,
    store: backends.store,
    registry: backends.registry,
    bus: backends.bus,
    limiter: backends.limiter,
    log,
    limits: { offlinePerUser: cfg.limits.offlinePerUser },
    isNodeAlive: backends.isNodeAlive,
    liveNodeCount: backends.liveNodeCount,
  });
  host.start();
  const modules: LoadedModule[] = [];
  for (const [def, options] of defaultModules({ offlinePerUser: cfg.limits.offlinePerUser, registration: cfg.registration })) {
    modules.push(await loadModule(host, def, options));
  }
  await backends.attach(host);
  let draining = false;
  const c2s = await startC2s(host, {
    bind: cfg.bind,
    port: cfg.c2s.port,
    tlsPort: cfg.c2s.tlsPort,
    tls: tlsMaterial,
    requireTls: cfg.c2s.requireTls,
    proxyProtocol: cfg.c2s.proxyProtocol,
    parser: { maxStanzaBytes: cfg.limits.maxStanzaBytes, maxDepth: cfg.limits.maxDepth },
    outboundBufferBytes: cfg.limits.outboundBufferBytes,
    handshakeTimeoutMs: cfg.limits.handshakeTimeoutSeconds * 1000,
    authFailuresPerIp: cfg.limits.authFailuresPerIp,
    authFailureWindowMs: cfg.limits.authFailureWindowSeconds * 1000,
    unknownUserSecret: loadOrCreateSecret(cfg.dataDir),
  });
  const notReadyReason = async () => (draining ? "draining" : backends.notReadyReason());
  const http = await startHttp(cfg.bind, cfg.http.port, { notReadyReason });
  c2s.attachWebSocket(http.server, cfg.http.websocketPath, { trustForwardedFor: cfg.http.trustForwardedFor });
  const ports = { ...c2s.ports, http: http.port };
  log.info({ domain: cfg.domain, nodeId: cfg.nodeId, role: cfg.role, backends: backends.kind, ports, dataDir: cfg.dataDir }, "switchboard started");

  let stopped = false;
  return {
    host,
    ports,
    notReadyReason,
    async stop() {
      if (stopped) return;
      stopped = true;
      draining = true;
      await c2s.close();
      await http.close();
      for (const m of modules.reverse()) m.unload();
      await host.stop();
      await backends.close();
      log.info("switchboard stopped");
    },
  };
}
