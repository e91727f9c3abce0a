export { RedisSessionRegistry, type RedisSessionRegistryOptions } from "./redis-registry.js";
export { NodeLiveness, type NodeLivenessOptions } from "./liveness.js";
export { RegistryUnavailableError, type RegistryUnavailableReason } from "./errors.js";
export { RegistryKeys } from "./keys.js";
export { announceIdentity, nodeIdentity, withdrawIdentity, type IdentityPart, type NodeIdentity } from "./identity.js";
