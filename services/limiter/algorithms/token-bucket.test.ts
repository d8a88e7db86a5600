import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CASE_START } from './cases.js';
import { createAlgorithm } from './index.js';
import { arrivalsArb, run } from './testing.js';

const params = fc.record({
  limit: fc.integer({ min: 1, max: 50 }),
  windowMs: fc.constantFrom(1, 100, 333, 1000, 60_000),
  burst: fc.integer({ min: 1, max: 50 }),
});

describe('token-bucket', () => {
  it('over any interval of t ms admits at most burst + limit × t / window units', () => {
    fc.assert(
      fc.property(params, arrivalsArb({ maxGap: 300, maxCost: 3 }), (p, arrivals) => {
        const decisions = run(createAlgorithm('token-bucket', p), arrivals);
        const units: number[] = [];
        decisions.forEach((d, i) => {
          const { at, cost } = arrivals[i] as { at: number; cost: number };
          if (d.allowed) for (let u = 0; u < Math.min(cost, p.burst); u++) units.push(at);
        });
        for (let i = 0; i < units.length; i++) {
          for (let j = i; j < units.length; j++) {
            const t = (units[j] as number) - (units[i] as number);
            expect(j - i + 1).toBeLessThanOrEqual(p.burst + (p.limit * t) / p.windowMs);
          }
        }
      }),
      { numRuns: 150 },
    );
  });

  it('bursts to capacity, then admits at the refill rate under a flood', () => {
    const algorithm = createAlgorithm('token-bucket', { limit: 5, windowMs: 1000, burst: 5 });
    // One request per ms for 10 s: 5 at once, then one per 200 ms.
    const arrivals = Array.from({ length: 10_000 }, (_, i) => ({ at: CASE_START + i, cost: 1 }));
    const admitted = run(algorithm, arrivals).flatMap((d, i) => (d.allowed ? [i] : []));
    expect(admitted.slice(0, 5)).toEqual([0, 1, 2, 3, 4]);
    expect(admitted.slice(5, 9)).toEqual([200, 400, 600, 800]);
    expect(admitted.length).toBe(5 + 49);
  });
});
