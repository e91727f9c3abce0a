export { RedisLeasedLimiter, DEFAULT_LIMITER_PREFIX, type RedisLeasedLimiterOptions, type LeasedLimiterStats } from "./leased-limiter.js";
export { LimiterBackendError } from "./redis-buckets.js";
