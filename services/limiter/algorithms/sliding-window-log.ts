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
 * limits or few keys; in Redis a list per key. `burst` is ignored.
 * Watch `lab_ratelimit_tracked_keys` and the process RSS.
 */
import type { AlgorithmDefinition, Decision } from '../types.js';

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
 * `create` reads `limit` (units per window) and `windowMs` (the window, in ms).
 * @example
 * const exact = createAlgorithm('sliding-window-log', { limit: 100, windowMs: 60_000, burst: 100 });
 */
export const slidingWindowLog: AlgorithmDefinition<SlidingLogState> = {
  create({ limit, windowMs: window }) {
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
        return {
          allowed,
          limit,
          remaining: limit - state.count,
          resetMs: newest + window - now,
          retryAfterMs,
        };
      },
      idleAt: (state) => (state.count === 0 ? 0 : entry(state, state.count - 1) + window),
    };
  },
  sharedState: { words: ['head', 'count'], log: (params) => params.limit },
  /**
   * Redis: a list of grant times, oldest first (one entry per unit, as the ring above).
   * Entries that left the window are popped from the head (each once), new grants pushed
   * at the tail; the key expires when its newest entry leaves the window. Times only
   * grow: they come from one clock, the Redis server's.
   */
  redis: `
local horizon = now - window
local count = redis.call('LLEN', key)
while count > 0 do
  local head = tonumber(redis.call('LINDEX', key, 0))
  if head > horizon then break end
  redis.call('LPOP', key)
  count = count - 1
end
local allowed = 0
local retry = 0
if count + cost <= limit then
  local t = int(now)
  local batch = {}
  for i = 1, cost do
    batch[#batch + 1] = t
    if #batch == 1000 then
      redis.call('RPUSH', key, unpack(batch))
      batch = {}
    end
  end
  if #batch > 0 then redis.call('RPUSH', key, unpack(batch)) end
  count = count + cost
  allowed = 1
else
  -- The (count + cost - limit)-th oldest grant must leave the window first.
  retry = tonumber(redis.call('LINDEX', key, count + cost - limit - 1)) + window - now
end
local resetMs = 0
if count > 0 then
  resetMs = tonumber(redis.call('LINDEX', key, -1)) + window - now
  expire(resetMs)
end
return {allowed, limit - count, resetMs, retry}
`,
};
