/**
 * @module
 * `RATE_LIMIT_STORE=redis`: the Redis store behind a circuit breaker, from the limiter's
 * configuration (`REDIS_URL`, `REDIS_KEY_PREFIX`, `RATE_LIMIT_STORE_TIMEOUT`,
 * `RATE_LIMIT_FAIL_MODE`). Start-up waits briefly for Redis but never fails on it: a
 * limiter that starts while Redis is down applies its fail mode until Redis is there.
 */
import { CircuitStore } from './circuit.js';
import type { StoreContext } from './index.js';
import { RedisStore, redactUrl } from './redis.js';

export async function createRedisStore({ config, log }: StoreContext): Promise<CircuitStore> {
  const redis = new RedisStore({
    url: config.redisUrl,
    prefix: config.redisKeyPrefix,
    timeoutMs: config.rateLimitStoreTimeout,
    log,
  });
  const ready = await redis.ready(2000);
  const fields = {
    url: redactUrl(config.redisUrl),
    prefix: config.redisKeyPrefix,
    timeout_ms: config.rateLimitStoreTimeout,
    fail_mode: config.rateLimitFailMode,
  };
  if (ready) log.info('redis_connected', fields);
  else log.warn('redis_unavailable_at_start', { ...fields, action: 'retrying in the background' });
  return new CircuitStore(redis, { log, failMode: config.rateLimitFailMode });
}
