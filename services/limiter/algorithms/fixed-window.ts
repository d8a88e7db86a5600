/**
 * @module
 * Fixed window: a counter per key per window, windows aligned on multiples of the window
 * length since the epoch; the counter resets at each window start. The original
 * workshop's challenge: 100 requests per 60-second window.
 *
 * **Pro:** the simplest and cheapest (one counter, one increment; in Redis an INCR with
 * an expiry); easy to explain ("100 per minute, reset on the minute").
 * **Con:** up to 2 × limit can pass within one window length around a boundary (all of
 * one window's quota at its end, all of the next one's at its start), and a client
 * refused early in a window waits for the whole rest of it. `burst` is ignored.
 * Watch rejections bunching just before window starts.
 */
import type { AlgorithmDefinition, Decision } from '../types.js';

export interface FixedWindowState {
  /** Start of the window `count` belongs to (ms, a multiple of windowMs). */
  start: number;
  /** Units counted in that window. */
  count: number;
}

/**
 * `create` reads `limit` (units per window) and `windowMs` (the window, in ms).
 * @example
 * const workshopChallenge = createAlgorithm('fixed-window', { limit: 100, windowMs: 60_000, burst: 100 });
 */
export const fixedWindow: AlgorithmDefinition<FixedWindowState> = {
  create({ limit, windowMs: window }) {
    return {
      maxCost: limit,
      init: (now) => ({ start: now - (now % window), count: 0 }),
      consume(state, now, cost): Decision {
        const start = now - (now % window);
        if (start > state.start) {
          state.start = start;
          state.count = 0;
        }
        const allowed = state.count + cost <= limit;
        if (allowed) state.count += cost;
        const resetMs = state.start + window - now;
        return {
          allowed,
          limit,
          remaining: limit - state.count,
          resetMs: state.count === 0 ? 0 : resetMs,
          retryAfterMs: allowed ? 0 : resetMs,
        };
      },
      idleAt: (state) => (state.count === 0 ? state.start : state.start + window),
    };
  },
  sharedState: { words: ['start', 'count'] },
  /**
   * Redis: a hash `{s: window start, c: count}`, windows aligned on multiples of the
   * window since the epoch, as `consume` above; the key expires at the end of its window.
   */
  redis: `
local start = now - (now % window)
local s = redis.call('HMGET', key, 's', 'c')
local ws = tonumber(s[1])
local count = tonumber(s[2])
if not ws or not count then
  ws = start
  count = 0
end
if start > ws then
  ws = start
  count = 0
end
local allowed = 0
if count + cost <= limit then
  count = count + cost
  allowed = 1
end
local resetMs = ws + window - now
local retry = 0
if allowed == 0 then retry = resetMs end
if count > 0 then
  redis.call('HSET', key, 's', int(ws), 'c', int(count))
  expire(resetMs)
  return {allowed, limit - count, resetMs, retry}
end
return {allowed, limit - count, 0, retry}
`,
};
