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

/**
 * A ring of grant times, oldest at `head`: entries `times[base]` to
 * `times[base + capacity - 1]`. A state of its own has `base` 0 and grows by doubling up to
 * `limit`; the memory store hands a window of its shared log region (`base` = the slot's
 * first entry, `capacity` ≥ `limit`), so it never grows and no view is made per decision.
 */
export interface SlidingLogState {
  times: Float64Array;
  base: number;
  capacity: number;
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

  /** The i-th oldest grant time. */
  const entry = (state: SlidingLogState, i: number) =>
    state.times[state.base + ((state.head + i) % state.capacity)] as number;

  /** Appends `cost` entries at `now`, growing a state of its own (never beyond `limit`). */
  function push(state: SlidingLogState, now: number, cost: number) {
    const needed = state.count + cost;
    if (needed > state.capacity) {
      let capacity = state.capacity;
      while (capacity < needed) capacity *= 2;
      const grown = new Float64Array(Math.min(capacity, limit));
      for (let i = 0; i < state.count; i++) grown[i] = entry(state, i);
      state.times = grown;
      state.base = 0;
      state.capacity = grown.length;
      state.head = 0;
    }
    const { times, base, capacity } = state;
    for (let i = 0; i < cost; i++) times[base + ((state.head + state.count + i) % capacity)] = now;
    state.count = needed;
  }

  return {
    name: 'sliding-window-log',
    params: p,
    id: algorithmId('sliding-window-log', p),
    maxCost: limit,
    init: () => {
      const capacity = Math.min(INITIAL_CAPACITY, limit);
      return { times: new Float64Array(capacity), base: 0, capacity, head: 0, count: 0 };
    },
    consume(state, now, cost): Decision {
      // Forget grants that left the window: an entry at e counts while now - e < window.
      const horizon = now - window;
      while (state.count > 0 && entry(state, 0) <= horizon) {
        state.head = (state.head + 1) % state.capacity;
        state.count--;
      }
      const allowed = state.count + cost <= limit;
      let retryAfterMs = 0;
      if (allowed) {
        push(state, now, cost);
      } else {
        // The (count + cost - limit)-th oldest grant must leave the window first.
        const k = state.count + cost - limit;
        retryAfterMs = entry(state, k - 1) + window - now;
      }
      const newest = state.count === 0 ? now - window : entry(state, state.count - 1);
      return { allowed, limit, remaining: limit - state.count, resetMs: newest + window - now, retryAfterMs };
    },
    idleAt: (state) => (state.count === 0 ? 0 : entry(state, state.count - 1) + window),
  };
}
