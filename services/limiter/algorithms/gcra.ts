/**
 * @module
 * GCRA, the generic cell rate algorithm (as redis-cell and throttled implement it): one
 * "theoretical arrival time" (TAT) per key. Each unit pushes the TAT one emission
 * interval T = window / limit further; a request is admitted when its new TAT stays
 * within the burst tolerance (burst × T) of now.
 *
 * **Pro:** the same admissions as a token bucket of capacity `burst` (it is the same
 * curve, seen from the other side) with one timestamp per key and no refill step, which
 * makes it the cheapest to keep in a remote store (one value, one script).
 * **Con:** the state is a time, not a count, so "remaining" and "reset" are derived, and
 * it shares the token bucket's burst-then-rate shape: `burst` at once, then one unit
 * per T. Watch rejected decisions by client.
 *
 * Exact arithmetic: T is rarely a whole number of ms (1000 / 3), so the TAT is kept in
 * mixed radix, `tat` whole ms plus `frac` / limit ms, and compared in ms·limit units.
 */
import type { AlgorithmDefinition, Decision } from '../types.js';

export interface GcraState {
  /** Whole milliseconds of the theoretical arrival time. */
  tat: number;
  /** Its fraction, in 1/limit ms: 0 ≤ frac < limit. */
  frac: number;
}

/**
 * `create` reads `limit` (units per window: the emission interval is window / limit),
 * `windowMs` (the window, in ms) and `burst` (units admitted at once from idle: the
 * tolerance is burst × T).
 * @example
 * const oneEvery100ms = createAlgorithm('gcra', { limit: 10, windowMs: 1000, burst: 1 });
 */
export const gcra: AlgorithmDefinition<GcraState> = {
  create({ limit, windowMs: window, burst }) {
    /** The tolerance in ms·limit units: burst × T × limit = burst × window. */
    const tolerance = burst * window;

    return {
      maxCost: burst,
      init: (now) => ({ tat: now, frac: 0 }),
      consume(state, now, cost): Decision {
        // How far the TAT is ahead of now, in ms·limit (0 when it is in the past).
        let ahead = (state.tat - now) * limit + state.frac;
        if (ahead < 0) ahead = 0;
        const next = ahead + cost * window;
        if (next <= tolerance) {
          const whole = Math.floor(next / limit);
          state.tat = now + whole;
          state.frac = next - whole * limit;
          return {
            allowed: true,
            limit,
            remaining: Math.floor((tolerance - next) / window),
            resetMs: Math.ceil(next / limit),
            retryAfterMs: 0,
          };
        }
        return {
          allowed: false,
          limit,
          remaining: Math.floor((tolerance - ahead) / window),
          resetMs: Math.ceil(ahead / limit),
          retryAfterMs: Math.ceil((next - tolerance) / limit),
        };
      },
      idleAt: (state) => state.tat + (state.frac > 0 ? 1 : 0),
    };
  },
  sharedState: { words: ['tat', 'frac'] },
  /**
   * Redis: a hash `{t: TAT whole ms, f: fraction in 1/limit ms}`, as `consume` above; the
   * key expires at the theoretical arrival time, when the state is back to a fresh one.
   * A refused request writes nothing.
   */
  redis: `
local tolerance = burst * window
local s = redis.call('HMGET', key, 't', 'f')
local tat = tonumber(s[1])
local frac = tonumber(s[2])
if not tat or not frac then
  tat = now
  frac = 0
end
local ahead = (tat - now) * limit + frac
if ahead < 0 then ahead = 0 end
local nxt = ahead + cost * window
if nxt <= tolerance then
  local whole = math.floor(nxt / limit)
  tat = now + whole
  frac = nxt - whole * limit
  local idle = whole
  if frac > 0 then idle = idle + 1 end
  redis.call('HSET', key, 't', int(tat), 'f', int(frac))
  expire(idle)
  return {1, math.floor((tolerance - nxt) / window), math.ceil(nxt / limit), 0}
end
return {0, math.floor((tolerance - ahead) / window), math.ceil(ahead / limit), math.ceil((nxt - tolerance) / limit)}
`,
};
