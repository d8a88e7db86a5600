import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createAlgorithm } from './index.js';
import { arrivalsArb, run } from './testing.js';

describe('sliding-window-log', () => {
  it('never admits more than the limit in any window of that length (random arrivals)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 20 }),
        fc.constantFrom(10, 100, 1000, 3000),
        arrivalsArb({ maxGap: 400, maxCost: 3 }),
        (limit, windowMs, arrivals) => {
          const algorithm = createAlgorithm('sliding-window-log', { limit, windowMs, burst: limit });
          const decisions = run(algorithm, arrivals);
          // Every admitted unit, in time order; the busiest window starts at an admitted unit.
          const units: number[] = [];
          decisions.forEach((d, i) => {
            const { at, cost } = arrivals[i] as { at: number; cost: number };
            if (d.allowed) for (let u = 0; u < Math.min(cost, limit); u++) units.push(at);
          });
          for (let i = 0, j = 0; i < units.length; i++) {
            while (j < units.length && (units[j] as number) < (units[i] as number) + windowMs) j++;
            expect(j - i).toBeLessThanOrEqual(limit);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('admits whenever the log has room: the exact count, not an estimate', () => {
    fc.assert(
      fc.property(arrivalsArb({ maxGap: 300 }), (arrivals) => {
        const algorithm = createAlgorithm('sliding-window-log', { limit: 5, windowMs: 1000, burst: 5 });
        const decisions = run(algorithm, arrivals);
        const admitted: number[] = [];
        decisions.forEach((d, i) => {
          const at = (arrivals[i] as { at: number }).at;
          const inWindow = admitted.filter((t) => at - t < 1000).length;
          expect(d.allowed).toBe(inWindow + 1 <= 5);
          expect(d.remaining).toBe(5 - inWindow - (d.allowed ? 1 : 0));
          if (d.allowed) admitted.push(at);
        });
      }),
      { numRuns: 200 },
    );
  });
});
