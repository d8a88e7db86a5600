/**
 * @module
 * The workshop challenge's rules for a fixed-window algorithm, as plain checks any
 * implementation of the limiter's `Algorithm` contract (services/limiter/types.ts) can be
 * run against. Time is passed in (`consume(state, now, cost)`), so the checks never sleep.
 *
 * The rules (the original workshop's: **100 requests per 60 s window, counter reset at
 * each window start, 429 beyond**), plus what the lab's limiter needs from any algorithm:
 * honest `remaining`/`retryAfterMs` for the `RateLimit`/`Retry-After` headers, one state
 * per key, and parameters that are not hard-coded.
 */
import { strict as assert } from 'node:assert';
import type { Algorithm, AlgorithmFactory, Decision } from '../../services/limiter/types.js';

/** 2024-10-04T00:00:00Z: a multiple of a day, so every window below starts exactly here. */
export const T0 = 1_728_000_000_000;
const MINUTE = 60_000;
const CHALLENGE = { limit: 100, windowMs: MINUTE, burst: 100 };

export interface Rule {
  name: string;
  /** Throws an `AssertionError` saying what the implementation did instead. */
  check(factory: AlgorithmFactory): void;
}

/** A key's state and a `hit(at)` that consumes 1 unit `at` ms after T0. */
function key(algorithm: Algorithm, at = 0) {
  const state = algorithm.init(T0 + at);
  return { hit: (when: number, cost = 1): Decision => algorithm.consume(state, T0 + when, cost), state };
}

function hits(hit: (at: number) => Decision, at: number, n: number): Decision[] {
  return Array.from({ length: n }, () => hit(at));
}

export const rules: Rule[] = [
  {
    name: 'admits exactly 100 requests in a 60 s window',
    check(factory) {
      const { hit } = key(factory(CHALLENGE));
      const decisions = [...hits(hit, 0, 50), ...hits(hit, 30_000, 50)];
      const refused = decisions.findIndex((d) => !d.allowed);
      assert.equal(refused, -1, `request #${refused + 1} of the first 100 was refused`);
    },
  },
  {
    name: 'refuses the 101st request in the same window (the limiter answers 429)',
    check(factory) {
      const { hit } = key(factory(CHALLENGE));
      hits(hit, 0, 100);
      assert.equal(hit(1_000).allowed, false, 'the 101st request within 60 s was allowed');
      assert.equal(hit(59_999).allowed, false, 'a request 1 ms before the window ends was allowed');
    },
  },
  {
    name: 'resets the counter at the next window start (not later)',
    check(factory) {
      const { hit } = key(factory(CHALLENGE));
      hits(hit, 10_000, 100);
      assert.equal(hit(59_999).allowed, false, 'still over the limit 1 ms before the window ends');
      const next = hits(hit, MINUTE, 100);
      assert.ok(
        next.every((d) => d.allowed),
        `after the window start at 60 s, only ${next.filter((d) => d.allowed).length} of 100 were allowed`,
      );
      assert.equal(hit(MINUTE + 1).allowed, false, 'the second window admitted more than 100');
    },
  },
  {
    name: 'windows start on the clock (multiples of 60 s), not at a key’s first request',
    check(factory) {
      const { hit } = key(factory(CHALLENGE), 50_000);
      hits(hit, 50_000, 100);
      assert.equal(hit(59_000).allowed, false, 'the limit did not hold within the window');
      assert.equal(
        hit(MINUTE).allowed,
        true,
        'a key first seen at 50 s was still refused at 60 s: its window did not start on the minute',
      );
    },
  },
  {
    name: 'does not reset early: 59.999 s after the window start it still refuses',
    check(factory) {
      const { hit } = key(factory(CHALLENGE));
      hits(hit, 0, 100);
      for (const at of [1, 1_000, 30_000, 59_000, 59_999]) {
        assert.equal(hit(at).allowed, false, `allowed again ${at} ms into a used-up window`);
      }
    },
  },
  {
    name: 'refused requests are not counted',
    check(factory) {
      const { hit } = key(factory(CHALLENGE));
      hits(hit, 0, 100);
      hits(hit, 1_000, 500);
      const next = hits(hit, MINUTE, 100);
      assert.ok(
        next.every((d) => d.allowed),
        'refused requests used up quota of the next window',
      );
    },
  },
  {
    name: 'remaining counts down from 99 to 0 and stays 0 when refused',
    check(factory) {
      const { hit } = key(factory(CHALLENGE));
      const remaining = hits(hit, 0, 100).map((d) => d.remaining);
      assert.deepEqual(
        remaining,
        Array.from({ length: 100 }, (_, i) => 99 - i),
        'remaining after each request',
      );
      assert.equal(hit(1).remaining, 0, 'remaining when refused');
      assert.equal(hit(MINUTE).remaining, 99, 'remaining after the first request of the next window');
    },
  },
  {
    name: 'reports limit = 100 and an honest retry time (waiting that long is enough)',
    check(factory) {
      const algorithm = factory(CHALLENGE);
      const { hit } = key(algorithm);
      hits(hit, 0, 100);
      const refused = hit(45_000);
      assert.equal(refused.limit, 100, 'limit');
      assert.equal(
        refused.retryAfterMs,
        15_000,
        'retryAfterMs at 45 s into a used-up window (until it ends)',
      );
      assert.equal(hit(45_000 + refused.retryAfterMs).allowed, true, 'refused after waiting retryAfterMs');
      assert.equal(hit(MINUTE + 1).retryAfterMs, 0, 'retryAfterMs of an allowed request');
    },
  },
  {
    name: 'each key has its own counter',
    check(factory) {
      const algorithm = factory(CHALLENGE);
      const bad = key(algorithm);
      const good = key(algorithm);
      hits(bad.hit, 0, 150);
      assert.equal(good.hit(1).allowed, true, 'one key used up the quota of another');
      assert.equal(good.hit(2).remaining, 98, "another key's requests were counted");
    },
  },
  {
    name: 'reads limit and window from its parameters (3 per second works too)',
    check(factory) {
      const { hit } = key(factory({ limit: 3, windowMs: 1_000, burst: 3 }));
      assert.deepEqual(
        hits(hit, 999, 4).map((d) => d.allowed),
        [true, true, true, false],
        '3 per second at 999 ms',
      );
      assert.deepEqual(
        hits(hit, 1_000, 4).map((d) => d.allowed),
        [true, true, true, false],
        'the next second',
      );
    },
  },
  {
    name: 'a cost counts as that many requests, and one that does not fit is refused whole',
    check(factory) {
      const { hit } = key(factory({ limit: 10, windowMs: 1_000, burst: 10 }));
      assert.equal(hit(0, 4).allowed, true);
      assert.equal(hit(100, 4).remaining, 2, 'remaining after 4 + 4 of 10');
      assert.equal(hit(200, 4).allowed, false, '4 more when 2 remain');
      assert.equal(hit(300, 2).allowed, true, 'the 2 that remain');
    },
  },
  {
    name: 'can be forgotten once idle (idleAt is never before the window end when counted)',
    check(factory) {
      const algorithm = factory(CHALLENGE);
      const { hit, state } = key(algorithm);
      hits(hit, 10_000, 100);
      const idle = algorithm.idleAt(state);
      assert.ok(
        idle >= T0 + MINUTE,
        `idleAt = T0 + ${idle - T0} ms: the store would forget a used-up key early`,
      );
    },
  },
];

/** Runs every rule; returns the failures (empty = the implementation passes). */
export function checkFixedWindow(factory: AlgorithmFactory): { rule: string; message: string }[] {
  const failures: { rule: string; message: string }[] = [];
  for (const rule of rules) {
    try {
      rule.check(factory);
    } catch (error) {
      failures.push({ rule: rule.name, message: error instanceof Error ? error.message : String(error) });
    }
  }
  return failures;
}
