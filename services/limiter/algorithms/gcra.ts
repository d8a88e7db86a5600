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
import type { Algorithm, AlgorithmParams, Decision } from '../types.js';
import { algorithmId, checkParams } from './params.js';

export interface GcraState {
  /** Whole milliseconds of the theoretical arrival time. */
  tat: number;
  /** Its fraction, in 1/limit ms: 0 ≤ frac < limit. */
  frac: number;
}

/**
 * @param params.limit - units per window: the emission interval is window / limit
 * @param params.windowMs - the window, in ms
 * @param params.burst - units admitted at once from idle (tolerance = burst × T)
 * @throws {Error} naming a bad parameter
 * @example
 * const oneEvery100ms = gcra({ limit: 10, windowMs: 1000, burst: 1 });
 */
export function gcra(params: AlgorithmParams): Algorithm<GcraState> {
  const p = checkParams('gcra', params);
  const { limit, windowMs: window } = p;
  /** The tolerance in ms·limit units: burst × T × limit = burst × window. */
  const tolerance = p.burst * window;

  return {
    name: 'gcra',
    params: p,
    id: algorithmId('gcra', p),
    maxCost: p.burst,
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
}
