/**
 * A Switchboard process: the shared core (backends chosen by configuration, the Host, the
 * modules, the HTTP listener with /healthz and /readyz) and the roles its `role` setting names
 * (roles/). `switchboard start` with no cluster URLs is every role on embedded backends; with
 * redisUrl and natsUrl the same roles run as a cluster node.
 */
import { Host, loadModule, type LoadedModule, type Logger, type Store } from "@switchboard/core";
import type { C2sListeners } from "@switchboard/c2s";
import { defaultModules, mamModule } from "@switchboard/modules";
import { checkBackendSettings, rolesOf, type SwitchboardConfig } from "./config.js";
import { startEdge, type RunningEdge } from "./roles/edge.js";
import { startMuc } from "./roles/muc.js";
import { startFederation, type RunningFederation } from "./roles/federation.js";
import { mucModule } from "@switchboard/muc";
import { componentsModule, type ComponentDirectory } from "@switchboard/component";
import type { RunningRole } from "./roles/role.js";
import { openBackends } from "./backends.js";
import { startHttp } from "./http.js";
import { createHttpsListener } from "./https.js";
import { startUpload, uploadUnavailableReason, type RunningUpload } from "./upload/index.js";
import { uploadModule } from "@switchboard/modules";
import { mountHostMeta } from "./host-meta.js";
import { loadOrCreateTlsMaterial } from "./tls.js";
import { loadOrCreateSecret } from "./secret.js";
import { OtelMetrics } from "./metrics/otel-metrics.js";
import { tracingFromEnv } from "./tracing/otel-tracing.js";
import { mountAdmin } from "./admin/index.js";
import { metricsRoute } from "./metrics/endpoint.js";
import { watchProcess } from "./metrics/process-metrics.js";
import { startAlerting } from "./alerts/index.js";

export interface RunningServer {
  host: Host;
  /** bound ports (0 for a listener the process's roles do not open) */
  ports: { c2s: number; c2sTls: number; http: number; httpTls: number; components: number; s2s: number };
  /** the client listeners (admission counts, open connections), when the process has the edge role */
  c2s?: C2sListeners;
  /** federation (s2s.enabled): the s2s listener and the outbound streams */
  s2s?: RunningFederation["federation"];
  /** undefined when ready (same as /readyz) */
  notReadyReason(): Promise<string | undefined>;
  /**
   * Stops accepting, closes every stream with <system-shutdown/>, cuts what is still open after
   * `drainMs` (default shutdown.drainSeconds) and frees the ports. Idempotent.
   */
  stop(opts?: { drainMs?: number }): Promise<void>;
}

/** `env`: where the OpenTelemetry adapters read the OTEL_* variables (default process.env; tests pass their own). */
export async function startServer(cfg: SwitchboardConfig, log: Logger, opts: { store?: Store; env?: NodeJS.ProcessEnv } = {}): Promise<RunningServer> {
  checkBackendSettings(cfg);
  const tlsMaterial = await loadOrCreateTlsMaterial(cfg, log);
  const backends = await openBackends(cfg, log, opts.store);
  // Whatever started is stopped again when a later step fails (a port in use): a failed start
  // must not leave listeners, timers or connections behind.
  const undo: Array<() => Promise<void> | void> = [() => backends.close()];
  const unwind = async () => {
    for (const step of undo.reverse()) await Promise.resolve(step()).catch(() => {});
  };
  let draining = false;
  try {
    // OpenTelemetry metrics: Prometheus text on GET /metrics, OTLP when OTEL_* says so.
    const metrics = new OtelMetrics({ nodeId: cfg.nodeId, env: opts.env });
    undo.push(() => metrics.shutdown());
    // OpenTelemetry traces: only when OTEL_* configures an exporter (docs/observability.md "Traces").
    const tracing = tracingFromEnv({ nodeId: cfg.nodeId, sampleRatio: cfg.tracing.sampleRatio, env: opts.env, warn: (message) => log.warn(message) });
    if (tracing) log.info({ url: tracing.url, protocol: tracing.protocol, sampling: tracing.sampling }, "tracing on");
    undo.push(() => tracing?.shutdown());
    const stopWatching = watchProcess(metrics);
    undo.push(stopWatching);
    const host = new Host({
      domain: cfg.domain,
      nodeId: cfg.nodeId,
      store: backends.store,
      registry: backends.registry,
      bus: backends.bus,
      limiter: backends.limiter,
      resumption: backends.resumption,
      roomDirectory: backends.roomDirectory,
      log,
      limits: { offlinePerUser: cfg.limits.offlinePerUser },
      isNodeAlive: backends.isNodeAlive,
      liveNodeCount: backends.liveNodeCount,
      markNodeGone: backends.markNodeGone,
      // New logins get a temporary error while the cluster backends are away (ARCHITECTURE.md
      // "Failure is normal"); established sessions keep what they can.
      loginBlocker: () => (draining ? "the server is stopping" : backends.loginBlocker()),
      metrics,
      tracing,
    });
    host.start();
    undo.push(() => host.stop());
    const modules: LoadedModule[] = [];
    undo.push(() => {
      for (const m of [...modules].reverse()) m.unload();
    });
    for (const [def, options] of defaultModules({ offlinePerUser: cfg.limits.offlinePerUser, presencePacing: { perSecond: cfg.limits.presencePerSecond, burst: cfg.limits.presenceBurst }, registration: cfg.registration, contact: cfg.contact, sm: cfg.sm, push: cfg.push, pep: cfg.pep, modules: cfg.modules })) {
      modules.push(await loadModule(host, def, options));
    }
    // XEP-0313: only with an archive; without one, disco offers none and no stanza-ids are set
    if (backends.archive) modules.push(await loadModule(host, mamModule(backends.archive), cfg.mam));
    else log.info({ reason: backends.noArchiveReason }, `message archive (XEP-0313) off: ${backends.noArchiveReason}`);
    const secret = await loadOrCreateSecret(cfg.dataDir);
    // Every node routes the MUC service's stanzas to its workers (the muc role serves rooms).
    if (!rolesOf(cfg.role).includes("muc")) modules.push(await loadModule(host, mucModule({ admins: cfg.admins, secret, worker: false }), cfg.muc));
    // Every node routes the external components' domains to wherever they connected (XEP-0114).
    let components: ComponentDirectory | undefined;
    modules.push(await loadModule(host, componentsModule({ hosts: cfg.components.hosts, onDirectory: (d) => (components = d) }), {}));
    await backends.attach(host, { certPem: tlsMaterial.cert, secret });
    // Alert rules over per-user traffic; alerts to the other nodes and the webhook (alerts/).
    const alerting = startAlerting(host, cfg, log);
    undo.push(() => alerting.stop());
    const notReadyReason = async () => (draining ? "draining" : backends.notReadyReason());
    const http = await startHttp(cfg.bind, cfg.http.port, { notReadyReason });
    undo.push(() => http.close());
    http.route(metricsRoute(metrics, { allowCidrs: cfg.metrics.allowCidrs, trustForwardedFor: cfg.http.trustForwardedFor }));
    undo.push(mountAdmin({ cfg, host, http, liveNodes: backends.liveNodeCount ?? (() => 1), log }));
    let edge: RunningEdge | undefined;
    // http.tlsPort: the same routes over TLS; its handshakes take the edge's slots once it runs.
    const https = cfg.http.tlsPort > 0
      ? createHttpsListener({ handler: http.handler, tls: tlsMaterial, handshakeMs: cfg.limits.tlsHandshakeSeconds * 1000, gate: () => edge?.c2s.handshakeSlots, proxyProtocol: cfg.http.tlsProxyProtocol, log })
      : undefined;
    undo.push(() => https?.close());
    let httpsPort = 0;
    // XEP-0363 HTTP File Upload (upload/ here, the module in @switchboard/modules)
    let upload: RunningUpload | undefined;
    const uploadOff = uploadUnavailableReason(cfg);
    if (uploadOff && cfg.upload.enabled) log.warn({ reason: uploadOff }, `HTTP file upload off: ${uploadOff}`);
    if (!uploadOff) {
      upload = await startUpload({ cfg, secret, http, httpsPort: () => httpsPort, log, metrics });
      undo.push(() => upload?.stop());
      modules.push(await loadModule(host, uploadModule(upload.deps), upload.options));
    }
    const roles: RunningRole[] = [];
    undo.push(async () => {
      for (const role of roles) await role.stop(0);
    });
    const roleNames = rolesOf(cfg.role);
    for (const name of roleNames) {
      const context = { cfg, host, tls: tlsMaterial, secret, http: http.server, https: https?.server, components: components! };
      if (name === "edge") roles.push((edge = await startEdge(context)));
      if (name === "muc") roles.push(await startMuc(context));
    }
    let federation: RunningFederation | undefined;
    if (cfg.s2s.enabled) roles.push((federation = await startFederation({ cfg, host, tls: tlsMaterial, secret, http: http.server, components: components! })));
    // where web clients learn the WebSocket URL (XEP-0156), on the nodes that serve it
    if (edge) mountHostMeta(http, { websocketPath: cfg.http.websocketPath, websocketUrl: cfg.http.websocketUrl });
    if (https) httpsPort = await https.listen(cfg.bind, cfg.http.tlsPort);
    const ports = { c2s: edge?.c2s.ports.c2s ?? 0, c2sTls: edge?.c2s.ports.c2sTls ?? 0, http: http.port, httpTls: httpsPort, components: edge?.componentsPort ?? 0, s2s: federation?.federation.port ?? 0 };
    log.info({ domain: cfg.domain, nodeId: cfg.nodeId, roles: roleNames, backends: backends.kind, ports, dataDir: cfg.dataDir }, "switchboard started");

    let stopping: Promise<void> | undefined;
    return {
      host,
      ports,
      c2s: edge?.c2s,
      s2s: federation?.federation,
      notReadyReason,
      stop(stopOpts = {}) {
        stopping ??= (async () => {
          draining = true; // /readyz false, logins refused
          const deadline = Date.now() + (stopOpts.drainMs ?? cfg.shutdown.drainSeconds * 1000);
          for (const role of roles) role.stopAccepting();
          // Modules hand on what they can first (stream management: clients resume elsewhere).
          await host.hooks.fire("host/draining", { deadline }).catch((err: unknown) => log.error({ err }, "host/draining handler failed"));
          // Streams get until a second before the deadline to close; the rest (modules, bus,
          // Redis) is quick, and bounded by the caller's deadline anyway.
          for (const role of roles) await role.stop(Math.max(0, deadline - Date.now() - 1_000));
          await http.close();
          await https?.close();
          upload?.stop();
          for (const m of modules.reverse()) m.unload();
          alerting.stop();
          await host.stop();
          await backends.close();
          stopWatching();
          await metrics.shutdown();
          await tracing?.shutdown();
          log.info("switchboard stopped");
        })();
        return stopping;
      },
    };
  } catch (err) {
    await unwind();
    throw err;
  }
}
