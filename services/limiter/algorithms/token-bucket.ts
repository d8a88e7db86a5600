/**
 * @module
 * Token bucket: a bucket of `burst` tokens, refilled continuously at `limit` per
 * `window`; a request takes `cost` tokens or is refused.
 *
 * **Pro:** bursts up to `burst` at once, then exactly the rate: over any t ms at most
 * burst + limit·t/window units pass; two numbers per key; O(1).
 * **Con:** a client that saved up a full bucket can spend it at once, so the short-term
 * peak is the burst, not the rate. The original workshop's default was
 * burst = limit = 5 per second.
 * Watch `lab_ratelimit_decisions_total{decision="rejected"}` by client.
 *
 * Exact arithmetic: the level is kept in unit·ms (one token = `windowMs` of them) and
 * refills by `limit` per millisecond, so a refill never loses a fraction of a token.
 */
import type { AlgorithmDefinition, Decision } from '../types.js';

export interface TokenBucketState {
  /** Tokens × windowMs (integer), at most burst × windowMs. */
  level: number;
  /** When `level` was last brought up to date (ms). */
  at: number;
}

/**
 * `create` reads `limit` (tokens added per window: the rate), `windowMs` (the window, in
 * ms) and `burst` (the bucket's capacity).
 * @example
 * const workshop = createAlgorithm('token-bucket', { limit: 5, windowMs: 1000, burst: 5 });
 */
export const tokenBucket: AlgorithmDefinition<TokenBucketState> = {
  create({ limit, windowMs: window, burst }) {
    const full = burst * window;

    return {
      maxCost: burst,
      init: (now) => ({ level: full, at: now }),
      consume(state, now, cost): Decision {
        let level = state.level;
        if (now > state.at) {
          level += (now - state.at) * limit;
          if (level > full) level = full;
          state.at = now;
        }
        const need = cost * window;
        const allowed = level >= need;
        if (allowed) level -= need;
        state.level = level;
        return {
          allowed,
          limit,
          remaining: Math.floor(level / window),
          resetMs: Math.ceil((full - level) / limit),
          retryAfterMs: allowed ? 0 : Math.ceil((need - level) / limit),
        };
      },
      idleAt: (state) => state.at + Math.ceil((full - state.level) / limit),
    };
  },
  sharedState: { words: ['level', 'at'] },
  /**
   * Redis: a hash `{l: level in unit·ms, a: last refill ms}`, the same arithmetic as
   * `consume` above; the key expires when the bucket is full again.
   */
  redis: `
local full = burst * window
local s = redis.call('HMGET', key, 'l', 'a')
local level = tonumber(s[1])
local at = tonumber(s[2])
if not level or not at then
  level = full
  at = now
end
if now > at then
  level = level + (now - at) * limit
  if level > full then level = full end
  at = now
end
local need = cost * window
local allowed = 0
local retry = 0
if level >= need then
  level = level - need
  allowed = 1
else
  retry = math.ceil((need - level) / limit)
end
local resetMs = math.ceil((full - level) / limit)
local idle = at + resetMs - now
if idle > 0 then
  redis.call('HSET', key, 'l', int(level), 'a', int(at))
  expire(idle)
else
  redis.call('DEL', key)
end
return {allowed, math.floor(level / window), resetMs, retry}
`,
};
