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
import type { Algorithm, AlgorithmParams, Decision } from '../types.js';
import { algorithmId, checkParams } from './params.js';

export interface FixedWindowState {
  /** Start of the window `count` belongs to (ms, a multiple of windowMs). */
  start: number;
  /** Units counted in that window. */
  count: number;
}

/**
 * @param params.limit - units per window
 * @param params.windowMs - the window, in ms
 * @throws {Error} naming a bad parameter
 * @example
 * const workshopChallenge = fixedWindow({ limit: 100, windowMs: 60_000, burst: 100 });
 */
export function fixedWindow(params: AlgorithmParams): Algorithm<FixedWindowState> {
  const p = checkParams('fixed-window', params);
  const { limit, windowMs: window } = p;

  return {
    name: 'fixed-window',
    params: p,
    id: algorithmId('fixed-window', p),
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
}
