/**
 * @module
 * The edge-case table every store must pass: one table, run against the memory store
 * with an injected clock (`algorithms.test.ts`) and against the Redis store with the
 * time passed to its scripts.
 *
 * Each case is one key under one algorithm: a sequence of steps, each a request of
 * `cost` units (default 1) at `at` ms after {@link CASE_START}, and what the decision
 * must say. Fields left out of `expect` are not checked. Steps run in order, on a fresh
 * key; `at` never goes backwards.
 *
 * {@link CASE_START} is a multiple of one day, so every window in the table (all divide
 * a day) starts exactly at offset 0: fixed windows and the sliding counter's windows are
 * aligned on multiples of their length since the Unix epoch.
 */
import type { AlgorithmName, AlgorithmParams, Decision } from '../types.js';

/** 2024-10-04T00:00:00Z: a multiple of 86 400 000 ms, so every case's window starts at 0. */
export const CASE_START = 1_728_000_000_000;

export type Expectation = Pick<Decision, 'allowed'> & Partial<Omit<Decision, 'allowed' | 'limit'>>;

export interface CaseStep {
  /** Milliseconds after CASE_START. */
  at: number;
  /** Units asked for (default 1). */
  cost?: number;
  expect: Expectation;
}

export interface AlgorithmCase {
  name: string;
  algorithm: AlgorithmName;
  params: AlgorithmParams;
  steps: CaseStep[];
}

/** `n` admitted requests at `at`, with `remaining` counting down from `first`. */
function admitted(at: number, n: number, first: number): CaseStep[] {
  return Array.from({ length: n }, (_, i) => ({ at, expect: { allowed: true, remaining: first - i } }));
}

const workshopBucket = { limit: 5, windowMs: 1000, burst: 5 };
const thirds = { limit: 3, windowMs: 1000, burst: 3 };

export const algorithmCases: AlgorithmCase[] = [
  // ── fixed-window ────────────────────────────────────────────────────────────────
  {
    name: 'fixed-window: the workshop challenge, exactly 100 per 60 s, the 101st refused until the next window',
    algorithm: 'fixed-window',
    params: { limit: 100, windowMs: 60_000, burst: 100 },
    steps: [
      { at: 0, expect: { allowed: true, remaining: 99, resetMs: 60_000 } },
      ...admitted(1_000, 99, 98),
      { at: 30_000, expect: { allowed: false, remaining: 0, resetMs: 30_000, retryAfterMs: 30_000 } },
      { at: 59_999, expect: { allowed: false, remaining: 0, retryAfterMs: 1 } },
      { at: 60_000, expect: { allowed: true, remaining: 99, resetMs: 60_000 } },
    ],
  },
  {
    name: 'fixed-window: the boundary burst, a full window at its end and another at the next start',
    algorithm: 'fixed-window',
    params: { limit: 3, windowMs: 1000, burst: 3 },
    steps: [
      ...admitted(999, 3, 2),
      { at: 999, expect: { allowed: false, retryAfterMs: 1, resetMs: 1 } },
      ...admitted(1000, 3, 2),
      { at: 1000, expect: { allowed: false, retryAfterMs: 1000 } },
    ],
  },
  {
    name: 'fixed-window: costs add up, a cost that does not fit is refused whole',
    algorithm: 'fixed-window',
    params: { limit: 10, windowMs: 1000, burst: 10 },
    steps: [
      { at: 0, cost: 4, expect: { allowed: true, remaining: 6 } },
      { at: 100, cost: 4, expect: { allowed: true, remaining: 2 } },
      { at: 200, cost: 4, expect: { allowed: false, remaining: 2, retryAfterMs: 800 } },
      { at: 300, cost: 2, expect: { allowed: true, remaining: 0 } },
      { at: 1000, cost: 10, expect: { allowed: true, remaining: 0 } },
    ],
  },

  // ── token-bucket ────────────────────────────────────────────────────────────────
  {
    name: 'token-bucket: the workshop default (5 per second, capacity 5) bursts to 5, then 1 per 200 ms',
    algorithm: 'token-bucket',
    params: workshopBucket,
    steps: [
      { at: 0, expect: { allowed: true, remaining: 4, resetMs: 200 } },
      ...admitted(0, 4, 3),
      { at: 0, expect: { allowed: false, remaining: 0, resetMs: 1000, retryAfterMs: 200 } },
      { at: 199, expect: { allowed: false, remaining: 0, retryAfterMs: 1 } },
      { at: 200, expect: { allowed: true, remaining: 0, resetMs: 1000 } },
      { at: 300, expect: { allowed: false, retryAfterMs: 100 } },
      { at: 400, expect: { allowed: true, remaining: 0 } },
      // Idle long enough to refill past capacity: capped at 5.
      { at: 5_000, expect: { allowed: true, remaining: 4, resetMs: 200 } },
    ],
  },
  {
    name: 'token-bucket: burst above the rate (20 at once, then 10 per second)',
    algorithm: 'token-bucket',
    params: { limit: 10, windowMs: 1000, burst: 20 },
    steps: [
      ...admitted(0, 20, 19),
      { at: 0, expect: { allowed: false, retryAfterMs: 100, resetMs: 2000 } },
      { at: 1000, expect: { allowed: true, remaining: 9 } },
    ],
  },
  {
    name: 'token-bucket: a rate that is not a whole number of ms per token (3 per second) stays exact',
    algorithm: 'token-bucket',
    params: thirds,
    steps: [
      ...admitted(0, 3, 2),
      { at: 0, expect: { allowed: false, retryAfterMs: 334 } },
      { at: 333, expect: { allowed: false, retryAfterMs: 1 } },
      { at: 334, expect: { allowed: true, remaining: 0 } },
      // The 2 unit·ms left over at 334 count: the next unit is due at 667, not 668.
      { at: 666, expect: { allowed: false, retryAfterMs: 1 } },
      { at: 667, expect: { allowed: true, remaining: 0 } },
    ],
  },
  {
    name: 'token-bucket: a cost larger than the tokens left waits for the missing ones only',
    algorithm: 'token-bucket',
    params: workshopBucket,
    steps: [
      { at: 0, cost: 3, expect: { allowed: true, remaining: 2 } },
      { at: 0, cost: 3, expect: { allowed: false, remaining: 2, retryAfterMs: 200 } },
      { at: 200, cost: 3, expect: { allowed: true, remaining: 0 } },
    ],
  },

  // ── gcra ────────────────────────────────────────────────────────────────────────
  {
    name: 'gcra: admits the burst tolerance at once, then one per emission interval (200 ms)',
    algorithm: 'gcra',
    params: workshopBucket,
    steps: [
      { at: 0, expect: { allowed: true, remaining: 4, resetMs: 200 } },
      ...admitted(0, 4, 3),
      { at: 0, expect: { allowed: false, remaining: 0, resetMs: 1000, retryAfterMs: 200 } },
      { at: 199, expect: { allowed: false, retryAfterMs: 1 } },
      { at: 200, expect: { allowed: true, remaining: 0, resetMs: 1000 } },
      { at: 300, expect: { allowed: false, retryAfterMs: 100 } },
      { at: 400, expect: { allowed: true, remaining: 0 } },
      { at: 5_000, expect: { allowed: true, remaining: 4, resetMs: 200 } },
    ],
  },
  {
    name: 'gcra: burst 1 means no tolerance, exactly one per emission interval (100 ms)',
    algorithm: 'gcra',
    params: { limit: 10, windowMs: 1000, burst: 1 },
    steps: [
      { at: 0, expect: { allowed: true, remaining: 0, resetMs: 100 } },
      { at: 50, expect: { allowed: false, retryAfterMs: 50, resetMs: 50 } },
      { at: 100, expect: { allowed: true, remaining: 0 } },
      { at: 150, expect: { allowed: false, retryAfterMs: 50 } },
      { at: 250, expect: { allowed: true, remaining: 0, resetMs: 100 } },
    ],
  },
  {
    name: 'gcra: an emission interval of 333⅓ ms stays exact',
    algorithm: 'gcra',
    params: thirds,
    steps: [
      ...admitted(0, 3, 2),
      { at: 0, expect: { allowed: false, retryAfterMs: 334, resetMs: 1000 } },
      { at: 333, expect: { allowed: false, retryAfterMs: 1 } },
      { at: 334, expect: { allowed: true, remaining: 0 } },
      // The 2 unit·ms left over at 334 count: the next unit is due at 667, not 668.
      { at: 666, expect: { allowed: false, retryAfterMs: 1 } },
      { at: 667, expect: { allowed: true, remaining: 0 } },
    ],
  },

  // ── sliding-window-log ─────────────────────────────────────────────────────────
  {
    name: 'sliding-window-log: never more than the limit in any window; retry when the oldest grant leaves',
    algorithm: 'sliding-window-log',
    params: { limit: 3, windowMs: 1000, burst: 3 },
    steps: [
      { at: 0, expect: { allowed: true, remaining: 2, resetMs: 1000 } },
      { at: 300, expect: { allowed: true, remaining: 1 } },
      { at: 600, expect: { allowed: true, remaining: 0, resetMs: 1000 } },
      { at: 900, expect: { allowed: false, remaining: 0, resetMs: 700, retryAfterMs: 100 } },
      { at: 999, expect: { allowed: false, retryAfterMs: 1 } },
      { at: 1000, expect: { allowed: true, remaining: 0 } },
      { at: 1299, expect: { allowed: false, retryAfterMs: 1 } },
      { at: 1300, expect: { allowed: true, remaining: 0 } },
      // Entries at 600, 1000, 1300: a cost of 2 needs the two oldest gone (1000 leaves at 2000).
      { at: 1301, cost: 2, expect: { allowed: false, retryAfterMs: 699 } },
      { at: 2000, cost: 2, expect: { allowed: true, remaining: 0 } },
      { at: 4000, expect: { allowed: true, remaining: 2 } },
    ],
  },
  {
    name: 'sliding-window-log: no boundary burst (a full window at 999 blocks the next start)',
    algorithm: 'sliding-window-log',
    params: { limit: 3, windowMs: 1000, burst: 3 },
    steps: [
      ...admitted(999, 3, 2),
      { at: 1000, expect: { allowed: false, retryAfterMs: 999 } },
      { at: 1999, expect: { allowed: true, remaining: 2 } },
    ],
  },
  {
    name: 'sliding-window-log: a large limit grows the log past its initial size',
    algorithm: 'sliding-window-log',
    params: { limit: 50, windowMs: 1000, burst: 50 },
    steps: [
      ...Array.from({ length: 50 }, (_, i) => ({ at: i * 10, expect: { allowed: true, remaining: 49 - i } })),
      { at: 500, expect: { allowed: false, retryAfterMs: 500 } },
      { at: 1000, expect: { allowed: true, remaining: 0 } },
      { at: 1001, expect: { allowed: false, retryAfterMs: 9 } },
    ],
  },

  // ── sliding-window-counter ─────────────────────────────────────────────────────
  {
    name: "sliding-window-counter: Cloudflare's example, 42 × 45/60 + 18 = 49.5 at 15 s into the window, so one more is refused",
    algorithm: 'sliding-window-counter',
    params: { limit: 50, windowMs: 60_000, burst: 50 },
    steps: [
      ...admitted(10_000, 42, 49),
      ...admitted(75_000, 18, 17),
      { at: 75_000, expect: { allowed: false, remaining: 0, resetMs: 105_000, retryAfterMs: 715 } },
      { at: 75_714, expect: { allowed: false, retryAfterMs: 1 } },
      { at: 75_715, expect: { allowed: true, remaining: 0 } },
    ],
  },
  {
    name: 'sliding-window-counter: a full window is carried into the next one, weighted down as it slides out',
    algorithm: 'sliding-window-counter',
    params: { limit: 10, windowMs: 1000, burst: 10 },
    steps: [
      ...admitted(500, 10, 9),
      { at: 999, expect: { allowed: false, remaining: 0, retryAfterMs: 101, resetMs: 1001 } },
      { at: 1099, expect: { allowed: false, remaining: 0, retryAfterMs: 1 } },
      { at: 1100, expect: { allowed: true, remaining: 0 } },
      // Previous 10 weighs 10 × 0.5 = 5 at 1500; current 1: room for 4.
      { at: 1500, expect: { allowed: true, remaining: 3 } },
      // Two windows later both counters are gone.
      { at: 3000, expect: { allowed: true, remaining: 9, resetMs: 2000 } },
    ],
  },
];

/** One step that did not decide as the table says. */
export interface CaseMismatch {
  step: number;
  at: number;
  cost: number;
  expected: Expectation;
  got: Decision;
}

/**
 * Replays one case against any store: `consume(at, cost)` must count `cost` units for a
 * fresh key at `CASE_START + at` (the memory store with an injected clock; the Redis
 * store with the time passed to its script) and return the decision.
 * @returns the steps whose decision differs in a field `expect` names (empty: passed)
 */
export async function replayCase(
  testCase: AlgorithmCase,
  consume: (at: number, cost: number) => Decision | PromiseLike<Decision>,
): Promise<CaseMismatch[]> {
  const mismatches: CaseMismatch[] = [];
  for (const [step, { at, cost = 1, expect }] of testCase.steps.entries()) {
    const got = await consume(CASE_START + at, cost);
    const differs = (Object.keys(expect) as (keyof Expectation)[]).some(
      (field) => got[field] !== expect[field],
    );
    if (differs || got.limit !== testCase.params.limit)
      mismatches.push({ step, at, cost, expected: expect, got });
  }
  return mismatches;
}
