export {
  RedisStore,
  openRedisStore,
  DEFAULT_KEY_PREFIX,
  FAIL_FAST_CLIENT_OPTIONS,
  type RedisStoreOptions,
  type OpenRedisStoreOptions,
  type DurabilityReport,
} from "./redis-store.js";
export { CREATE_MANY_BATCH } from "./accounts.js";
export { userKeys, accountIndexKey, banIndexKey, hashSlot, InvalidKeyPrefixError, type UserKeys } from "./keys.js";
export type { RedisClient } from "./scripts.js";
