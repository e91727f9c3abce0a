/** @switchboard/sasl — server-side SASL for XMPP (RFC 6120 §6): SCRAM-SHA-256/-1 and PLAIN over TLS. */
export type { AccountCredentials, ScramCredential } from "./types.js";
export {
  DEFAULT_ITERATIONS,
  deriveCredentials,
  deriveCredentialsAsync,
  verifyPassword,
  verifyPasswordAsync,
  type DeriveCredentialsOptions,
} from "./credentials.js";
export { SaslPrepError, saslPrep } from "./saslprep.js";
export {
  createMechanism,
  offeredMechanisms,
  type CredentialLookup,
  type MechanismOptions,
  type SaslFailureCondition,
  type SaslServerMechanism,
  type SaslStep,
} from "./mechanism.js";
export { ScramMechanism } from "./scram.js";
export { PlainMechanism } from "./plain.js";
export type { ScramMechanismName, ScramPlusMechanismName } from "./scram-crypto.js";
export { CHANNEL_BINDING_TYPES, offersChannelBinding, type ChannelBindingType, type ChannelBindings } from "./channel-binding.js";
