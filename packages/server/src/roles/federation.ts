/**
 * Federation (packages/s2s) on this process: the s2s listener and outbound streams, when
 * s2s.enabled. Every node runs it until the s2s gateway role (leases per remote domain) lands;
 * the dialback keys come from the shared server secret, so any node answers for any other.
 */
import { readFile } from "node:fs/promises";
import tls from "node:tls";
import { startS2s, type Federation } from "@switchboard/s2s";
import type { RoleContext, RunningRole } from "./role.js";

export interface RunningFederation extends RunningRole {
  federation: Federation;
}

export async function startFederation({ cfg, host, tls: material, secret }: RoleContext): Promise<RunningFederation> {
  const s2s = cfg.s2s;
  let trustedCa: string | undefined;
  if (s2s.trustedCaFile) {
    trustedCa = await readFile(s2s.trustedCaFile, "utf8").catch((err: NodeJS.ErrnoException) => {
      throw new Error(`s2s.trustedCaFile: cannot read ${s2s.trustedCaFile} (${err.code ?? err.message})`, { cause: err });
    });
  }
  const federation = await startS2s(host, {
    bind: cfg.bind,
    port: s2s.port,
    tlsContext: tls.createSecureContext({ cert: material.cert, key: material.key }),
    trustedCa,
    requireTls: s2s.requireTls,
    allowDialback: s2s.allowDialback,
    routes: s2s.routes,
    maxQueueBytes: s2s.maxQueueBytes,
    idleMs: s2s.idleSeconds * 1000,
    parser: { maxStanzaBytes: s2s.maxStanzaBytes, maxDepth: cfg.limits.maxDepth },
    blockedDomains: s2s.blockedDomains,
    connectionsPerIp: s2s.connectionsPerIp,
    handshakeTimeoutMs: cfg.limits.handshakeTimeoutSeconds * 1000,
    tlsHandshakeMs: cfg.limits.tlsHandshakeSeconds * 1000,
    outboundBufferBytes: cfg.limits.outboundBufferBytes,
    congestionTimeoutMs: cfg.limits.congestionTimeoutSeconds * 1000,
    secret,
  });
  return { name: "s2s", federation, stopAccepting: () => federation.stopAccepting(), stop: (graceMs) => federation.stop(graceMs) };
}
