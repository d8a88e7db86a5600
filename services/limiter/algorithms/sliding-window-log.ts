/**
 * @module
 * Sliding window log: the exact answer. Each key keeps the times of the units it was
 * granted in the last window; a request is admitted when those plus its cost stay
 * within `limit`.
 *
 * **Pro:** exact: never more than `limit` units in any window of that length, wherever
 * the window is placed (the property test checks it with random arrivals), and
 * `Retry-After` is the instant the oldest needed entry expires.
 * **Con:** memory and time grow with the limit: up to `limit` timestamps per key
 * (8 bytes each: 100/min ≈ 0.8 KB, 10 000/min ≈ 80 KB per key), so keep it for small
 * limits or few keys; in Redis a sorted set per key. `burst` is ignored.
 * Watch `lab_ratelimit_tracked_keys` and the process RSS.
 */
import type { Algorithm, AlgorithmParams, Decision } from '../types.js';
import { algorithmId, checkParams } from './params.js';

/** A ring buffer of grant times, oldest at `head`; grows by doubling up to `limit`. */
export interface SlidingLogState {
  times: Float64Array;
  head: number;
  count: number;
}

const INITIAL_CAPACITY = 8;

/**
 * @param params.limit - units per window
 * @param params.windowMs - the window, in ms
 * @throws {Error} naming a bad parameter
 * @example
 * const exact = slidingWindowLog({ limit: 100, windowMs: 60_000, burst: 100 });
 */
export function slidingWindowLog(params: AlgorithmParams): Algorithm<SlidingLogState> {
  const p = checkParams('sliding-window-log', params);
  const { limit, windowMs: window } = p;

  /** Appends `cost` entries at `now`, growing the buffer (never beyond `limit`). */
  function push(state: SlidingLogState, now: number, cost: number) {
    let { times } = state;
    const needed = state.count + cost;
    if (needed > times.length) {
      let capacity = times.length;
      while (capacity < needed) capacity *= 2;
      const grown = new Float64Array(Math.min(capacity, limit));
      for (let i = 0; i < state.count; i++) grown[i] = times[(state.head + i) % times.length] as number;
      times = grown;
      state.times = grown;
      state.head = 0;
    }
    for (let i = 0; i < cost; i++) times[(state.head + state.count + i) % times.length] = now;
    state.count = needed;
  }

  return {
    name: 'sliding-window-log',
    params: p,
    id: algorithmId('sliding-window-log', p),
    maxCost: limit,
    init: () => ({ times: new Float64Array(Math.min(INITIAL_CAPACITY, limit)), head: 0, count: 0 }),
    consume(state, now, cost): Decision {
      // Forget grants that left the window: an entry at e counts while now - e < window.
      const { times } = state;
      const capacity = times.length;
      const horizon = now - window;
      while (state.count > 0 && (times[state.head] as number) <= horizon) {
        state.head = (state.head + 1) % capacity;
        state.count--;
      }
      const allowed = state.count + cost <= limit;
      let retryAfterMs = 0;
      if (allowed) {
        push(state, now, cost);
      } else {
        // The (count + cost - limit)-th oldest grant must leave the window first.
        const k = state.count + cost - limit;
        retryAfterMs = (times[(state.head + k - 1) % capacity] as number) + window - now;
      }
      const newest =
        state.count === 0
          ? now - window
          : (state.times[(state.head + state.count - 1) % state.times.length] as number);
      return { allowed, limit, remaining: limit - state.count, resetMs: newest + window - now, retryAfterMs };
    },
    idleAt: (state) =>
      state.count === 0
        ? 0
        : (state.times[(state.head + state.count - 1) % state.times.length] as number) + window,
  };
}
