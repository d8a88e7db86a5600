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
import type { Algorithm, AlgorithmParams, Decision } from '../types.js';
import { algorithmId, checkParams } from './params.js';

export interface TokenBucketState {
  /** Tokens × windowMs (integer), at most burst × windowMs. */
  level: number;
  /** When `level` was last brought up to date (ms). */
  at: number;
}

/**
 * @param params.limit - tokens added per window (the rate)
 * @param params.windowMs - the window, in ms
 * @param params.burst - the bucket's capacity
 * @throws {Error} naming a bad parameter
 * @example
 * const workshop = tokenBucket({ limit: 5, windowMs: 1000, burst: 5 });
 */
export function tokenBucket(params: AlgorithmParams): Algorithm<TokenBucketState> {
  const p = checkParams('token-bucket', params);
  const { limit, windowMs: window } = p;
  const full = p.burst * window;

  return {
    name: 'token-bucket',
    params: p,
    id: algorithmId('token-bucket', p),
    maxCost: p.burst,
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
}
