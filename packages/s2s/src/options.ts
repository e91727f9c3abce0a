/**
 * What the federation part of a process is given (the server maps its `s2s.*` keys here,
 * docs/configuration.md); one object shared by every s2s stream of the process.
 */
import type { SecureContext } from "node:tls";
import type { ParserLimits } from "@switchboard/xml";
import type { SrvLookup } from "./resolve.js";

export interface S2sOptions {
  bind: string;
  /** s2s.port (0: a free port) */
  port: number;
  /** our certificate, offered on inbound STARTTLS */
  tlsContext: SecureContext;
  /** s2s.trustedCaFile's PEM text; undefined: Node's bundled CAs */
  trustedCa?: string;
  /** s2s.requireTls */
  requireTls: boolean;
  /** s2s.allowDialback */
  allowDialback: boolean;
  /** s2s.routes: domain → "host:port" */
  routes: Readonly<Record<string, string>>;
  /** s2s.maxQueueBytes */
  maxQueueBytes: number;
  /** s2s.idleSeconds in ms */
  idleMs: number;
  /** s2s.maxStanzaBytes and limits.maxDepth */
  parser: ParserLimits;
  /** s2s.blockedDomains, lower case */
  blockedDomains: readonly string[];
  /** s2s.connectionsPerIp (0: no cap) */
  connectionsPerIp: number;
  /** limits.handshakeTimeoutSeconds in ms: accept (or connect) → authenticated */
  handshakeTimeoutMs: number;
  /** limits.tlsHandshakeSeconds in ms */
  tlsHandshakeMs: number;
  /** limits.outboundBufferBytes and limits.congestionTimeoutSeconds for inbound streams */
  outboundBufferBytes: number;
  congestionTimeoutMs: number;
  /** the server secret (server/secret.ts): the dialback keys are derived from it */
  secret: Buffer;
  /** DNS for resolution (tests inject one); default node:dns */
  dns?: SrvLookup;
}
