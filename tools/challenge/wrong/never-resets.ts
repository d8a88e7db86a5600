/**
 * @module
 * A deliberately wrong fixed window for the challenge's own test: it counts forever and
 * never resets, so after the first 100 requests a client is locked out for good.
 * `CHALLENGE_IMPL=tools/challenge/wrong/never-resets.ts npm run challenge` must fail.
 */
import { fixedWindow } from '../../../services/limiter/algorithms/fixed-window.js';
import type { AlgorithmDefinition } from '../../../services/limiter/types.js';

export const neverResets: AlgorithmDefinition<{ count: number }> = {
  create: ({ limit }) => ({
    maxCost: limit,
    init: () => ({ count: 0 }),
    consume(state, _now, cost) {
      const allowed = state.count + cost <= limit;
      if (allowed) state.count += cost;
      return {
        allowed,
        limit,
        remaining: limit - state.count,
        resetMs: 0,
        retryAfterMs: allowed ? 0 : 60_000,
      };
    },
    idleAt: () => Number.POSITIVE_INFINITY,
  }),
  sharedState: { words: ['count'] },
  // Never registered, so never run by the Redis store: the reference's script.
  redis: fixedWindow.redis,
};
