import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CASE_START } from './cases.js';
import { createAlgorithm } from './index.js';
import { arrivalsArb, run } from './testing.js';

describe('fixed-window', () => {
  it('the workshop challenge: exactly 100 per 60 s window, counted from each window start', () => {
    const algorithm = createAlgorithm('fixed-window', { limit: 100, windowMs: 60_000, burst: 100 });
    // 3 requests per second for 3 minutes: 100 admitted in each minute, the rest refused.
    const arrivals = Array.from({ length: 540 }, (_, i) => ({
      at: CASE_START + Math.floor((i * 1000) / 3),
      cost: 1,
    }));
    const decisions = run(algorithm, arrivals);
    for (let minute = 0; minute < 3; minute++) {
      const inMinute = decisions.slice(minute * 180, (minute + 1) * 180);
      expect(inMinute.filter((d) => d.allowed)).toHaveLength(100);
      expect(inMinute.slice(0, 100).every((d) => d.allowed)).toBe(true);
      expect(inMinute[100]?.retryAfterMs).toBe(60_000 - Math.floor((100 * 1000) / 3));
    }
  });

  it('never admits more than the limit per aligned window', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 20 }),
        fc.constantFrom(10, 1000, 60_000),
        arrivalsArb({ maxCost: 3 }),
        (limit, windowMs, arrivals) => {
          const decisions = run(createAlgorithm('fixed-window', { limit, windowMs, burst: limit }), arrivals);
          const perWindow = new Map<number, number>();
          decisions.forEach((d, i) => {
            const { at, cost } = arrivals[i] as { at: number; cost: number };
            if (!d.allowed) return;
            const start = at - (at % windowMs);
            perWindow.set(start, (perWindow.get(start) ?? 0) + Math.min(cost, limit));
          });
          for (const units of perWindow.values()) expect(units).toBeLessThanOrEqual(limit);
        },
      ),
    );
  });
});
