/**
 * The shared edge-case table (`cases.ts`) through the memory store with an injected
 * clock, plus the properties every registered algorithm must have.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SharedStore } from '../stores/shared.js';
import type { AlgorithmName, AlgorithmParams, Decision } from '../types.js';
import { algorithmCases, CASE_START, replayCase } from './cases.js';
import { ALGORITHM_NAMES, createAlgorithm } from './index.js';
import { ReferenceStore } from './testing.js';

function clockedStore() {
  const clock = { now: CASE_START };
  const store = SharedStore.create({ maxKeys: 16, now: () => clock.now, sweepIntervalMs: 0 });
  return { clock, store };
}

describe('the shared edge-case table, memory store', () => {
  for (const testCase of algorithmCases) {
    it(testCase.name, () => {
      const { clock, store } = clockedStore();
      const algorithm = createAlgorithm(testCase.algorithm, testCase.params);
      testCase.steps.forEach((step, index) => {
        clock.now = CASE_START + step.at;
        const decision = store.consume('case', algorithm, step.cost ?? 1);
        const got: Partial<Decision> = {};
        for (const field of Object.keys(step.expect) as (keyof Decision)[])
          got[field] = decision[field] as never;
        expect(got, `step ${index} (at ${step.at} ms, cost ${step.cost ?? 1})`).toEqual(step.expect);
        expect(decision.limit).toBe(testCase.params.limit);
      });
    });
  }

  it('replayCase (for other stores) agrees with the table, and reports a wrong decision', async () => {
    for (const testCase of algorithmCases) {
      const { clock, store } = clockedStore();
      const algorithm = createAlgorithm(testCase.algorithm, testCase.params);
      const consume = (at: number, cost: number) => {
        clock.now = at;
        return store.consume('case', algorithm, cost);
      };
      expect(await replayCase(testCase, consume)).toEqual([]);
    }
    const first = algorithmCases[0] as (typeof algorithmCases)[number];
    const alwaysAllowed = (): Decision => ({
      allowed: true,
      limit: 100,
      remaining: 99,
      resetMs: 0,
      retryAfterMs: 0,
    });
    expect((await replayCase(first, alwaysAllowed)).length).toBeGreaterThan(0);
  });

  it('covers every registered algorithm', () => {
    expect(new Set(algorithmCases.map((c) => c.algorithm))).toEqual(new Set(ALGORITHM_NAMES));
  });
});

/** Random parameters small enough to hit the edges often. */
const params = fc.record({
  limit: fc.integer({ min: 1, max: 12 }),
  windowMs: fc.constantFrom(1, 7, 100, 333, 1000, 60_000),
  burst: fc.integer({ min: 1, max: 12 }),
});
/** Random arrivals: gaps in ms (often 0: bursts) and costs (clamped to the algorithm's max). */
const arrivals = fc.array(
  fc.record({
    gap: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 2_000 })),
    cost: fc.integer({ min: 1, max: 4 }),
  }),
  { minLength: 1, maxLength: 40 },
);

function replay(name: AlgorithmName, p: AlgorithmParams, steps: { at: number; cost: number }[]) {
  const { clock, store } = clockedStore();
  const algorithm = createAlgorithm(name, p);
  let last: Decision | undefined;
  for (const step of steps) {
    clock.now = step.at;
    last = store.consume('k', algorithm, Math.min(step.cost, algorithm.maxCost));
  }
  return last as Decision;
}

describe.each(ALGORITHM_NAMES)('%s: properties', (name) => {
  it('Retry-After is honest: waiting exactly retryAfterMs, or its whole seconds, is admitted; 1 ms less is not', () => {
    fc.assert(
      fc.property(params, arrivals, (p, seq) => {
        const steps: { at: number; cost: number }[] = [];
        let at = CASE_START;
        for (const { gap, cost } of seq) {
          at += gap;
          steps.push({ at, cost });
        }
        for (let i = 0; i < steps.length; i++) {
          const prefix = steps.slice(0, i + 1);
          const decision = replay(name, p, prefix);
          if (decision.allowed) {
            expect(decision.retryAfterMs).toBe(0);
            continue;
          }
          const { at: now, cost } = prefix[i] as { at: number; cost: number };
          expect(decision.retryAfterMs).toBeGreaterThan(0);
          expect(Number.isInteger(decision.retryAfterMs)).toBe(true);
          const retry = (delay: number) => replay(name, p, [...prefix, { at: now + delay, cost }]).allowed;
          expect(retry(decision.retryAfterMs), 'at now + retryAfterMs').toBe(true);
          expect(retry(Math.ceil(decision.retryAfterMs / 1000) * 1000), 'at now + Retry-After seconds').toBe(
            true,
          );
          expect(retry(decision.retryAfterMs - 1), 'at now + retryAfterMs - 1').toBe(false);
        }
      }),
      { numRuns: 150 },
    );
  });

  it('reports integers within bounds, and is back to full (and idle) after resetMs', () => {
    fc.assert(
      fc.property(params, arrivals, (p, seq) => {
        const { clock, store } = clockedStore();
        const reference = new ReferenceStore(() => clock.now);
        const algorithm = createAlgorithm(name, p);
        for (const { gap, cost } of seq) {
          clock.now += gap;
          const d = store.consume('k', algorithm, Math.min(cost, algorithm.maxCost));
          expect(reference.consume('k', algorithm, Math.min(cost, algorithm.maxCost))).toEqual(d);
          for (const v of [d.remaining, d.resetMs, d.retryAfterMs]) {
            expect(Number.isInteger(v)).toBe(true);
            expect(v).toBeGreaterThanOrEqual(0);
          }
          expect(d.remaining).toBeLessThanOrEqual(algorithm.maxCost);
          const state = reference.peek('k');
          expect(algorithm.idleAt(state)).toBeLessThanOrEqual(clock.now + d.resetMs);
        }
        // At resetMs after the last request the key is idle: a sweep forgets it.
        const last = store.consume('k', algorithm, 1);
        clock.now += last.resetMs;
        expect(store.sweep()).toBe(1);
        expect(store.trackedKeys()).toBe(0);
      }),
      { numRuns: 150 },
    );
  });

  it('rejects bad parameters with an error naming the field', () => {
    expect(() => createAlgorithm(name, { limit: 0, windowMs: 1000, burst: 1 })).toThrow(
      /limit must be an integer/,
    );
    expect(() => createAlgorithm(name, { limit: -5, windowMs: 1000, burst: 1 })).toThrow(/limit/);
    expect(() => createAlgorithm(name, { limit: 1, windowMs: 0.5, burst: 1 })).toThrow(/windowMs/);
    expect(() => createAlgorithm(name, { limit: 1, windowMs: 1000, burst: Number.NaN })).toThrow(/burst/);
  });
});

it('createAlgorithm names the known algorithms when given an unknown one', () => {
  expect(() => createAlgorithm('leaky-bucket', { limit: 1, windowMs: 1, burst: 1 })).toThrow(
    /unknown algorithm "leaky-bucket" \(known: token-bucket, fixed-window, sliding-window-log, sliding-window-counter, gcra\)/,
  );
});
