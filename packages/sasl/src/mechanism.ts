/**
 * Server-side SASL mechanisms as XMPP uses them (RFC 6120 §6): a mechanism is a small state
 * machine fed with the decoded payload of each <auth/> or <response/> and answering with the next
 * <challenge/>, <success/> or <failure/>. No XML here: the stream layer does the base64 and elements.
 */
import { PlainMechanism } from "./plain.js";
import { ScramMechanism } from "./scram.js";
import { SCRAM_MECHANISM_NAMES, SCRAM_PLUS_MECHANISM_NAMES, scramVariant } from "./scram-crypto.js";
import { offersChannelBinding, type ChannelBindings } from "./channel-binding.js";
import type { AccountCredentials } from "./types.js";

/** RFC 6120 §6.5 SASL error conditions. */
export type SaslFailureCondition =
  | "aborted"
  | "account-disabled"
  | "credentials-expired"
  | "encryption-required"
  | "incorrect-encoding"
  | "invalid-authzid"
  | "invalid-mechanism"
  | "malformed-request"
  | "mechanism-too-weak"
  | "not-authorized"
  | "temporary-auth-failure";

export type SaslStep =
  | { kind: "challenge"; data: Buffer }
  /** username: the authenticated, SASLprepped username (local part); data: additional data with success (SCRAM server-final) */
  | { kind: "success"; username: string; data?: Buffer }
  | { kind: "failure"; condition: SaslFailureCondition; text?: string };

export interface SaslServerMechanism {
  readonly name: string;
  /**
   * Feeds the next client payload. An empty first payload means "no initial response" and is
   * answered with an empty challenge (RFC 6120 §6.4.2); after success or failure every further
   * step fails with malformed-request.
   */
  step(input: Buffer): Promise<SaslStep>;
}

/** Returns the account's credentials, or undefined when it does not exist. Throwing maps to temporary-auth-failure. */
export type CredentialLookup = (username: string) => Promise<AccountCredentials | undefined>;

export interface MechanismOptions {
  /** Whether the stream is encrypted; PLAIN is only offered and accepted under TLS. */
  tls: boolean;
  /**
   * What the TLS channel can bind to (RFC 5802 §6); with at least one type the -PLUS mechanisms
   * are offered, and a client saying "y" (it could bind but thinks we cannot) is a downgrade.
   */
  channelBindings?: ChannelBindings;
  /** Server nonce part for SCRAM (default 18 random bytes, base64). Injectable for known-answer tests. */
  nonce?: () => string;
  /** Secret behind the fake salts for unknown users; share it across a cluster (see unknown-user.ts). */
  unknownUserSecret?: Buffer;
  /** Iteration count announced for unknown users; should match what real accounts use (default 4096). */
  unknownUserIterations?: number;
}

/** Mechanisms in order of preference. PLAIN sends the password itself, so only under TLS (RFC 6120 §6.4.2, §13.8). */
export function offeredMechanisms(opts: MechanismOptions): string[] {
  const plus = opts.tls && offersChannelBinding(opts) ? SCRAM_PLUS_MECHANISM_NAMES : [];
  return opts.tls ? [...plus, ...SCRAM_MECHANISM_NAMES, "PLAIN"] : [...SCRAM_MECHANISM_NAMES];
}

/** A fresh mechanism for one exchange, or undefined when the name is unknown or not offered (→ invalid-mechanism). */
export function createMechanism(name: string, lookup: CredentialLookup, opts: MechanismOptions): SaslServerMechanism | undefined {
  if (!offeredMechanisms(opts).includes(name)) return undefined;
  const scram = scramVariant(name);
  if (scram) return new ScramMechanism(scram.base, lookup, opts, scram.plus);
  if (name === "PLAIN") return new PlainMechanism(lookup, opts);
  return undefined;
}
