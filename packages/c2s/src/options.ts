import type { SecureContext } from "node:tls";
import type { ParserLimits } from "@switchboard/xml";
import type { UserRateOptions } from "./user-rate.js";
import type { HandshakeSlots } from "./handshake-slots.js";
import type { LoginBudget } from "./login-budget.js";

export interface C2sOptions {
  /** TLS material for STARTTLS; undefined disables STARTTLS */
  tlsContext?: SecureContext;
  /** refuse SASL until the stream is encrypted (RFC 6120 §5.3.1 "mandatory-to-negotiate") */
  requireTls: boolean;
  parser: ParserLimits;
  /** the outbound queue's high-water mark: above it a connection is congested (stream/congestion.ts) */
  outboundBufferBytes: number;
  /** a congested connection that takes no byte for this long is cut (limits.congestionTimeoutSeconds) */
  congestionTimeoutMs: number;
  /** time allowed from connect to bound resource */
  handshakeTimeoutMs: number;
  /**
   * time allowed from accept to a completed TLS handshake: on the direct-TLS port (listeners.ts),
   * and on the STARTTLS port when TLS is required (from accept) or once <starttls/> was sent
   */
  tlsHandshakeMs: number;
  /** failed SASL attempts per IP within authFailureWindowMs before logins are refused */
  authFailuresPerIp: number;
  authFailureWindowMs: number;
  /**
   * sessions one user may hold at once, on every node, detached stream-management sessions
   * included (0: no cap); the next bind of a new resource gets <resource-constraint/>
   */
  maxSessionsPerUser?: number;
  /** stanzas and bytes per user and second, cluster-wide, and the flood cut-off (user-rate.ts); undefined: none */
  userRate?: UserRateOptions;
  /** new connections per client address and second, cluster-wide (0: no limit) */
  connectionsPerIpPerSecond?: number;
  /**
   * Secret behind the fake SCRAM salts of unknown users; every node of a cluster must share it,
   * or comparing two nodes' answers would reveal which accounts exist.
   */
  unknownUserSecret?: Buffer;
  /** limits.maxConcurrentHandshakes: this process's TLS handshakes and SASL steps in flight (handshake-slots.ts) */
  handshakeSlots?: HandshakeSlots;
  /** limits.loginsPerSecond: the cluster's login budget (login-budget.ts); undefined: none */
  loginBudget?: LoginBudget;
}

export const AUTH_FAILURE_POLICY = "c2s.auth-failures-per-ip";
/** limits.connectionsPerIpPerSecond */
export const CONNECTION_RATE_POLICY = "c2s.connections-per-ip";
