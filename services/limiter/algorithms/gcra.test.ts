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

describe('gcra', () => {
  it('admits exactly what a token bucket of capacity `burst` admits (the same curve)', () => {
    fc.assert(
      fc.property(params, arrivalsArb({ maxGap: 500, maxCost: 3 }), (p, arrivals) => {
        const viaBucket = run(createAlgorithm('token-bucket', p), arrivals);
        const viaGcra = run(createAlgorithm('gcra', p), arrivals);
        expect(viaGcra).toEqual(viaBucket);
      }),
      { numRuns: 300 },
    );
  });

  it('admits the burst tolerance, then one per emission interval', () => {
    const algorithm = createAlgorithm('gcra', { limit: 10, windowMs: 1000, burst: 3 });
    const arrivals = Array.from({ length: 1_000 }, (_, i) => ({ at: CASE_START + i, cost: 1 }));
    const admitted = run(algorithm, arrivals).flatMap((d, i) => (d.allowed ? [i] : []));
    expect(admitted).toEqual([0, 1, 2, 100, 200, 300, 400, 500, 600, 700, 800, 900]);
  });
});
