/**
 * The edge role: client connections (c2s over TCP with STARTTLS, direct TLS and WebSocket on the
 * process's HTTP port). Stateless: everything that outlives a connection is in the backends.
 */
import { startC2s, type C2sListeners } from "@switchboard/c2s";
import type { RoleContext, RunningRole } from "./role.js";

export interface RunningEdge extends RunningRole {
  c2s: C2sListeners;
}

export async function startEdge({ cfg, host, tls, secret, http, https }: RoleContext): Promise<RunningEdge> {
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
  return { name: "edge", c2s, stopAccepting: () => c2s.stopAccepting(), stop: (graceMs) => c2s.close({ graceMs }) };
}
