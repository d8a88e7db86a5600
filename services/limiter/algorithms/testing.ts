/**
 * Test helpers for the algorithm properties: random arrival sequences replayed against
 * one key with an injected clock.
 */
import fc from 'fast-check';
import type { Algorithm, Decision } from '../types.js';
import { CASE_START } from './cases.js';

export interface Arrival {
  at: number;
  cost: number;
}

/** Random arrivals: bursts (gap 0) mixed with gaps up to `maxGap` ms, costs 1..maxCost. */
export const arrivalsArb = ({ maxGap = 1500, maxCost = 1, maxLength = 200 } = {}) =>
  fc
    .array(
      fc.record({
        gap: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 20 }), fc.integer({ min: 0, max: maxGap })),
        cost: fc.integer({ min: 1, max: maxCost }),
      }),
      { minLength: 1, maxLength },
    )
    .map((steps) => {
      let at = CASE_START + 12_345;
      return steps.map(({ gap, cost }) => {
        at += gap;
        return { at, cost };
      });
    });

/** Feeds `arrivals` to `algorithm` for one key; returns each decision. */
export function run(algorithm: Algorithm, arrivals: readonly Arrival[]): Decision[] {
  const first = arrivals[0];
  const state = algorithm.init(first ? first.at : CASE_START);
  return arrivals.map(({ at, cost }) => algorithm.consume(state, at, Math.min(cost, algorithm.maxCost)));
}

/**
 * What every store must decide: the algorithm alone, one state per key in a `Map`,
 * unbounded and on one thread; a new `algorithm.id` for a key starts it afresh, as the
 * stores do on a policy change. The stores' contract tests compare with it.
 */
export class ReferenceStore {
  readonly #states = new Map<string, { id: string; state: unknown }>();

  constructor(readonly now: () => number) {}

  consume(key: string, algorithm: Algorithm, cost: number): Decision {
    const now = this.now();
    let entry = this.#states.get(key);
    if (entry === undefined || entry.id !== algorithm.id) {
      entry = { id: algorithm.id, state: algorithm.init(now) };
      this.#states.set(key, entry);
    }
    return algorithm.consume(entry.state, now, cost);
  }

  /** The state kept for `key`. */
  peek(key: string): unknown {
    return this.#states.get(key)?.state;
  }
}
