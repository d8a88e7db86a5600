/**
 * @module
 * A deliberately wrong fixed window: windows and reset are right, but the counter lives in
 * the factory's closure instead of the key's state, so every client shares one quota
 * (the original workshop's shared-IP bug, moved into the algorithm).
 */
import type { Algorithm, AlgorithmParams } from '../../../services/limiter/types.js';

export function sharedCounter(params: AlgorithmParams): Algorithm<Record<string, never>> {
  const { limit, windowMs } = params;
  let start = 0;
  let count = 0;
  return {
    name: 'fixed-window',
    params,
    id: `shared-counter:${limit}/${windowMs}`,
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
}
