import { describe, expect, it } from 'vitest';
import { backoffDelay, worstCaseWaitMs } from './retry.js';

const schedule = { retries: 3, baseMs: 100 };

describe('backoffDelay', () => {
  it('doubles the ceiling per retry and waits between half of it and all of it', () => {
    expect([1, 2, 3].map((n) => backoffDelay(n, schedule, () => 0))).toEqual([50, 100, 200]);
    expect([1, 2, 3].map((n) => backoffDelay(n, schedule, () => 0.5))).toEqual([75, 150, 300]);
    expect([1, 2, 3].map((n) => backoffDelay(n, schedule, () => 0.999_999))).toEqual([100, 200, 400]);
  });

  it('never exceeds the worst case in total, for any random source', () => {
    let seed = 7;
    const random = () => {
      seed = (seed * 16807) % 2147483647;
      return (seed - 1) / 2147483646;
    };
    for (let run = 0; run < 1000; run++) {
      let total = 0;
      for (let n = 1; n <= schedule.retries; n++) {
        const delay = backoffDelay(n, schedule, random);
        expect(delay).toBeGreaterThanOrEqual(50 * 2 ** (n - 1));
        total += delay;
      }
      expect(total).toBeLessThanOrEqual(worstCaseWaitMs(schedule));
    }
  });

  it('worst case: 100 ms base, 3 retries → 700 ms; no retries → 0', () => {
    expect(worstCaseWaitMs(schedule)).toBe(700);
    expect(worstCaseWaitMs({ retries: 0, baseMs: 100 })).toBe(0);
  });
});
