/**
 * @module
 * A deliberately wrong fixed window: windows and reset are right, but the counter lives in
 * the definition's closure instead of the key's state, so every client shares one quota
 * (the original workshop's shared-IP bug, moved into the algorithm).
 */
import { fixedWindow } from '../../../services/limiter/algorithms/fixed-window.js';
import type { AlgorithmDefinition } from '../../../services/limiter/types.js';

export const sharedCounter: AlgorithmDefinition<Record<string, never>> = {
  create({ limit, windowMs }) {
    let start = 0;
    let count = 0;
    return {
      maxCost: limit,
      init: () => ({}),
      consume(_state, now, cost) {
        const windowStart = now - (now % windowMs);
        if (windowStart > start) {
          start = windowStart;
          count = 0;
        }
        const allowed = count + cost <= limit;
        if (allowed) count += cost;
        const resetMs = start + windowMs - now;
        return { allowed, limit, remaining: limit - count, resetMs, retryAfterMs: allowed ? 0 : resetMs };
      },
      idleAt: () => start + windowMs,
    };
  },
  sharedState: { words: [] },
  // Never registered, so never run by the Redis store: the reference's script.
  redis: fixedWindow.redis,
};
