export { RedisResumptionStore, type RedisResumptionStoreOptions } from "./redis-resumption-store.js";
