import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createAlgorithm } from './index.js';
import { arrivalsArb, run } from './testing.js';

/** Cloudflare's formula, computed independently: previous × (window − elapsed)/window + current. */
function reference(limit: number, windowMs: number) {
  const counts = new Map<number, number>();
  return (at: number, cost: number) => {
    const start = at - (at % windowMs);
    const previous = counts.get(start - windowMs) ?? 0;
    const current = counts.get(start) ?? 0;
    const elapsed = at - start;
    // Compare in integers: the estimate × windowMs.
    const allowed = previous * (windowMs - elapsed) + (current + cost) * windowMs <= limit * windowMs;
    if (allowed) counts.set(start, current + cost);
    return { allowed, estimate: previous * ((windowMs - elapsed) / windowMs) + current };
  };
}

describe('sliding-window-counter', () => {
  it("matches the weighted formula on Cloudflare's example (42 × 45/60 + 18 = 49.5)", () => {
    const model = reference(50, 60_000);
    const base = 1_728_000_000_000;
    for (let i = 0; i < 42; i++) model(base + 10_000, 1);
    for (let i = 0; i < 18; i++) model(base + 75_000, 1);
    const next = model(base + 75_000, 1);
    expect(next.estimate).toBe(49.5);
    expect(next.allowed).toBe(false);
  });

  it('decides exactly as the weighted formula, for random arrivals and costs', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 30 }),
        fc.constantFrom(7, 100, 1000, 60_000),
        arrivalsArb({ maxGap: 2_000, maxCost: 4 }),
        (limit, windowMs, arrivals) => {
          const algorithm = createAlgorithm('sliding-window-counter', { limit, windowMs, burst: limit });
          const model = reference(limit, windowMs);
          const decisions = run(algorithm, arrivals);
          decisions.forEach((d, i) => {
            const { at, cost } = arrivals[i] as { at: number; cost: number };
            expect(d.allowed).toBe(model(at, Math.min(cost, limit)).allowed);
          });
        },
      ),
      { numRuns: 300 },
    );
  });
});
