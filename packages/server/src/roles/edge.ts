/**
 * The edge role: client connections (c2s over TCP with STARTTLS, direct TLS and WebSocket on the
 * process's HTTP port). Stateless: everything that outlives a connection is in the backends.
 */
import { startC2s, type C2sListeners } from "@switchboard/c2s";
import { listenForComponents, type ComponentListener } from "@switchboard/component";
import type { RoleContext, RunningRole } from "./role.js";

export interface RunningEdge extends RunningRole {
  c2s: C2sListeners;
  /** the XEP-0114 listener's port (0: none) */
  componentsPort: number;
}

export async function startEdge({ cfg, host, tls, secret, http, https, components }: RoleContext): Promise<RunningEdge> {
  const c2s = await startC2s(host, {
    bind: cfg.bind,
    port: cfg.c2s.port,
    tlsPort: cfg.c2s.tlsPort,
    tls,
    requireTls: cfg.c2s.requireTls,
    proxyProtocol: cfg.c2s.proxyProtocol,
    parser: { maxStanzaBytes: cfg.limits.maxStanzaBytes, maxDepth: cfg.limits.maxDepth },
    outboundBufferBytes: cfg.limits.outboundBufferBytes,
    congestionTimeoutMs: cfg.limits.congestionTimeoutSeconds * 1000,
    handshakeTimeoutMs: cfg.limits.handshakeTimeoutSeconds * 1000,
    tlsHandshakeMs: cfg.limits.tlsHandshakeSeconds * 1000,
    admission: { maxUnauthenticated: cfg.limits.maxUnauthenticated, maxUnauthenticatedPerIp: cfg.limits.maxUnauthenticatedPerIp },
    authFailuresPerIp: cfg.limits.authFailuresPerIp,
    authFailureWindowMs: cfg.limits.authFailureWindowSeconds * 1000,
    maxSessionsPerUser: cfg.limits.maxSessionsPerUser,
    connectionsPerIpPerSecond: cfg.limits.connectionsPerIpPerSecond,
    maxConcurrentHandshakes: cfg.limits.maxConcurrentHandshakes,
    loginsPerSecond: cfg.limits.loginsPerSecond,
    userRate: {
      stanzasPerSecond: cfg.limits.userStanzasPerSecond,
      stanzaBurst: cfg.limits.userStanzaBurst,
      bytesPerSecond: cfg.limits.userBytesPerSecond,
      byteBurst: Math.max(cfg.limits.userBytesPerSecond, cfg.limits.maxStanzaBytes),
      floodMs: cfg.limits.floodSeconds * 1000,
    },
    unknownUserSecret: secret,
  });
  c2s.attachWebSocket(http, cfg.http.websocketPath, { trustForwardedFor: cfg.http.trustForwardedFor });
  // wss:// on http.tlsPort: the same endpoint, its connections already secure
  if (https) c2s.attachWebSocket(https, cfg.http.websocketPath, { secure: true, trustForwardedFor: cfg.http.trustForwardedFor });
  // XEP-0114: external components, when a port and at least one component are configured.
  let external: ComponentListener | undefined;
  if (cfg.components.port > 0 && cfg.components.hosts.length > 0) {
    try {
      external = await listenForComponents(host, {
        bind: cfg.bind,
        port: cfg.components.port,
        parser: { maxStanzaBytes: cfg.limits.maxStanzaBytes, maxDepth: cfg.limits.maxDepth },
        secrets: new Map(cfg.components.hosts.map((c) => [c.domain, c.secret])),
        directory: components,
        handshakeTimeoutMs: cfg.limits.handshakeTimeoutSeconds * 1000,
        outboundBufferBytes: cfg.limits.outboundBufferBytes,
        congestionTimeoutMs: cfg.limits.congestionTimeoutSeconds * 1000,
      });
    } catch (err) {
      await c2s.close({ graceMs: 0 });
      throw err;
    }
  }
  return {
    name: "edge",
    c2s,
    componentsPort: external?.port ?? 0,
    stopAccepting: () => {
      c2s.stopAccepting();
      external?.stopAccepting();
    },
    stop: async (graceMs) => {
      await Promise.all([c2s.close({ graceMs }), external?.close(graceMs)]);
    },
  };
}
