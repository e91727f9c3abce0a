/**
 * Lua for keys held by a token (SET key token NX PX ttl): the holder renews or releases the key
 * only while it still holds it, so a late call never touches a key that expired and was taken
 * by someone else. Shared by the registry's purge locks and the store's offline delivery claims.
 */

/** KEYS[1] the key; ARGV[1] holder token, ARGV[2] ttl ms. 1 when still held and extended. */
export const RENEW_IF_HOLDER = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0`;

/** KEYS[1] the key; ARGV[1] holder token. Deletes it only while still held. */
export const RELEASE_IF_HOLDER = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;
