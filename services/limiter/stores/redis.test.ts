/**
 * The Redis store against a real `redis-server` (started on a free loopback port):
 * the shared edge-case table (`algorithms/cases.ts`, the same one the memory store
 * passes) with the time passed to the scripts, then random sequences decided by both
 * stores side by side, then the store's own duties: expiry, prefix, NOSCRIPT reload,
 * server time, fast failure.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RedisServer, startRedis } from '../../../tests/helpers/redis.js';
import { algorithmCases, CASE_START } from '../algorithms/cases.js';
import { ALGORITHM_NAMES, createAlgorithm } from '../algorithms/index.js';
import { ReferenceStore } from '../algorithms/testing.js';
import type { Decision } from '../types.js';
import { RedisStore } from './redis.js';

let redis: RedisServer;
let store: RedisStore;
const clock = { now: CASE_START };

beforeAll(async () => {
  redis = await startRedis();
  // A generous timeout: this is a correctness test on a busy machine. A long slack: the
  // injected clock jumps minutes while real time (the keys' TTLs) barely moves.
  store = new RedisStore({ url: redis.url, timeoutMs: 2000, slackMs: 600_000, clock: () => clock.now });
  expect(await store.ready(10_000)).toBe(true);
}, 30_000);

afterAll(async () => {
  await store?.close();
  await redis?.stop();
});

let keySeq = 0;
const freshKey = () => `case-${process.pid}-${++keySeq}`;

describe('the shared edge-case table, redis store', () => {
  for (const testCase of algorithmCases) {
    it(testCase.name, async () => {
      const algorithm = createAlgorithm(testCase.algorithm, testCase.params);
      const key = freshKey();
      for (const [index, step] of testCase.steps.entries()) {
        clock.now = CASE_START + step.at;
        const decision = await store.consume(key, algorithm, step.cost ?? 1);
        const got: Partial<Decision> = {};
        for (const field of Object.keys(step.expect) as (keyof Decision)[])
          got[field] = decision[field] as never;
        expect(got, `step ${index} (at ${step.at} ms, cost ${step.cost ?? 1})`).toEqual(step.expect);
        expect(decision.limit).toBe(testCase.params.limit);
      }
    });
  }
});

describe('redis store = memory store, decision for decision', () => {
  const params = fc.record({
    limit: fc.integer({ min: 1, max: 12 }),
    windowMs: fc.constantFrom(1, 7, 100, 333, 1000, 60_000),
    burst: fc.integer({ min: 1, max: 12 }),
  });
  const arrivals = fc.array(
    fc.record({
      gap: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 20 }), fc.integer({ min: 0, max: 2_000 })),
      cost: fc.integer({ min: 1, max: 4 }),
    }),
    { minLength: 1, maxLength: 40 },
  );
  for (const name of ALGORITHM_NAMES) {
    it(`${name}: random arrivals and costs`, async () => {
      await fc.assert(
        fc.asyncProperty(params, arrivals, async (p, seq) => {
          const algorithm = createAlgorithm(name, p);
          const memClock = { now: CASE_START + 12_345 };
          const reference = new ReferenceStore(() => memClock.now);
          const key = freshKey();
          for (const { gap, cost } of seq) {
            memClock.now += gap;
            clock.now = memClock.now;
            const c = Math.min(cost, algorithm.maxCost);
            expect(await store.consume(key, algorithm, c)).toEqual(reference.consume(key, algorithm, c));
          }
        }),
        { numRuns: 40 },
      );
    }, 60_000);
  }
});

describe('redis store: keys', () => {
  it('prefixes every key and sets an expiry on each (resetMs + slack)', async () => {
    const algorithm = createAlgorithm('token-bucket', { limit: 10, windowMs: 1000, burst: 10 });
    clock.now = CASE_START;
    await store.consume('ttl-check', algorithm, 3);
    const key = `lab:rl:${algorithm.id}|ttl-check`;
    expect(await store.client.exists(key)).toBe(1);
    const ttl = await store.client.pttl(key);
    // 3 tokens missing at 10 per s: full again in 300 ms, plus the 600 s slack.
    expect(ttl).toBeGreaterThan(590_000);
    expect(ttl).toBeLessThanOrEqual(600_300);
  });

  it('an idle key disappears by itself (real expiry, server time)', async () => {
    const quick = new RedisStore({ url: redis.url, timeoutMs: 2000, slackMs: 0, prefix: 'idle:' });
    try {
      await quick.ready(10_000);
      const algorithm = createAlgorithm('fixed-window', { limit: 5, windowMs: 200, burst: 5 });
      await quick.consume('a', algorithm, 1);
      expect(await quick.countKeys()).toBe(1);
      await new Promise((r) => setTimeout(r, 600));
      expect(await quick.countKeys()).toBe(0);
    } finally {
      await quick.close();
    }
  });

  it('a policy change (another algorithm id) starts the key afresh', async () => {
    clock.now = CASE_START;
    const strict = createAlgorithm('fixed-window', { limit: 1, windowMs: 60_000, burst: 1 });
    const loose = createAlgorithm('fixed-window', { limit: 5, windowMs: 60_000, burst: 5 });
    expect((await store.consume('reload', strict, 1)).allowed).toBe(true);
    expect((await store.consume('reload', strict, 1)).allowed).toBe(false);
    expect(await store.consume('reload', loose, 1)).toMatchObject({ allowed: true, remaining: 4 });
  });

  it('clear() deletes only this prefix', async () => {
    const other = new RedisStore({ url: redis.url, prefix: 'other:', slackMs: 60_000 });
    const mine = new RedisStore({ url: redis.url, prefix: 'mine:', slackMs: 60_000 });
    try {
      await Promise.all([other.ready(10_000), mine.ready(10_000)]);
      const algorithm = createAlgorithm('gcra', { limit: 5, windowMs: 1000, burst: 5 });
      for (const k of ['a', 'b', 'c']) {
        await other.consume(k, algorithm, 1);
        await mine.consume(k, algorithm, 1);
      }
      await mine.clear();
      expect(await mine.countKeys()).toBe(0);
      expect(await other.countKeys()).toBe(3);
    } finally {
      await other.close();
      await mine.close();
    }
  });
});

describe('redis store: scripts and time', () => {
  it('after SCRIPT FLUSH (a restarted Redis) the NOSCRIPT answer reloads the script, decisions go on', async () => {
    clock.now = CASE_START;
    const algorithm = createAlgorithm('sliding-window-log', { limit: 2, windowMs: 1000, burst: 2 });
    expect((await store.consume('flush', algorithm, 1)).allowed).toBe(true);
    await store.client.script('FLUSH');
    const before = store.scriptReloads;
    expect(await store.consume('flush', algorithm, 1)).toMatchObject({ allowed: true, remaining: 0 });
    expect(store.scriptReloads).toBe(before + 1);
    // Loaded again: the next call is a plain EVALSHA.
    expect((await store.consume('flush', algorithm, 1)).allowed).toBe(false);
    expect(store.scriptReloads).toBe(before + 1);
  });

  it('without an injected clock the scripts use the server time (TIME)', async () => {
    const server = new RedisStore({ url: redis.url, prefix: 'time:', slackMs: 0 });
    try {
      await server.ready(10_000);
      // Fixed window of 1 h: resetMs is the rest of the current hour by the server's clock.
      const algorithm = createAlgorithm('fixed-window', { limit: 5, windowMs: 3_600_000, burst: 5 });
      const [seconds, micros] = await server.client.time();
      const serverNow = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
      const decision = await server.consume('t', algorithm, 1);
      const expected = 3_600_000 - (serverNow % 3_600_000);
      expect(Math.abs(decision.resetMs - expected)).toBeLessThan(5_000);
      await server.clear();
    } finally {
      await server.close();
    }
  });

  it('a large sliding log (limit 5000, costs of 2000) stays exact', async () => {
    clock.now = CASE_START;
    const algorithm = createAlgorithm('sliding-window-log', { limit: 5000, windowMs: 1000, burst: 5000 });
    const key = freshKey();
    expect(await store.consume(key, algorithm, 2000)).toMatchObject({ allowed: true, remaining: 3000 });
    clock.now += 10;
    expect(await store.consume(key, algorithm, 2000)).toMatchObject({ allowed: true, remaining: 1000 });
    expect(await store.consume(key, algorithm, 2000)).toMatchObject({ allowed: false, retryAfterMs: 990 });
    expect(await store.client.llen(`lab:rl:${algorithm.id}|${key}`)).toBe(4000);
  });
});

describe('redis store: refusals remembered locally', () => {
  it('a refused key is refused again without a round trip (synchronously) until its retryAfterMs', async () => {
    clock.now = CASE_START;
    const algorithm = createAlgorithm('fixed-window', { limit: 2, windowMs: 1000, burst: 2 });
    const key = freshKey();
    await store.consume(key, algorithm, 1);
    await store.consume(key, algorithm, 1);
    expect(await store.consume(key, algorithm, 1)).toMatchObject({ allowed: false, retryAfterMs: 1000 });
    const cached = store.cachedRefusals;
    clock.now = CASE_START + 400;
    const again = store.consume(key, algorithm, 1);
    // A plain object, not a promise: no Redis call.
    expect(again).toEqual({ allowed: false, limit: 2, remaining: 0, resetMs: 600, retryAfterMs: 600 });
    expect(store.cachedRefusals).toBe(cached + 1);
    // Another replica (another store) still asks Redis, and agrees.
    const other = new RedisStore({
      url: redis.url,
      timeoutMs: 2000,
      slackMs: 600_000,
      clock: () => clock.now,
    });
    try {
      await other.ready(10_000);
      expect(await other.consume(key, algorithm, 1)).toEqual(again);
    } finally {
      await other.close();
    }
    // At retryAfterMs Redis decides again: admitted.
    clock.now = CASE_START + 1000;
    expect(await store.consume(key, algorithm, 1)).toMatchObject({ allowed: true, remaining: 1 });
  });

  it('only for a cost of 1: a larger cost is asked of Redis', async () => {
    clock.now = CASE_START;
    const algorithm = createAlgorithm('token-bucket', { limit: 5, windowMs: 1000, burst: 5 });
    const key = freshKey();
    await store.consume(key, algorithm, 5);
    expect((await store.consume(key, algorithm, 1)).allowed).toBe(false);
    const result = store.consume(key, algorithm, 2);
    expect(result).toBeInstanceOf(Promise);
    expect((await result).allowed).toBe(false);
  });
});

describe('redis store: failures are fast', () => {
  it('no server: a call fails at once (no offline queue), well within the timeout', async () => {
    const dead = new RedisStore({ url: 'redis://127.0.0.1:9', timeoutMs: 50 });
    try {
      const algorithm = createAlgorithm('gcra', { limit: 5, windowMs: 1000, burst: 5 });
      const started = performance.now();
      await expect(dead.consume('x', algorithm, 1)).rejects.toThrow();
      // Generous: the bound is about never hanging, not speed.
      expect(performance.now() - started).toBeLessThan(50 + 500);
    } finally {
      await dead.close();
    }
  });

  it('a server that stopped answering (SIGSTOP): the call fails after the timeout, not later', async () => {
    const own = await startRedis();
    const paused = new RedisStore({ url: own.url, timeoutMs: 100 });
    try {
      await paused.ready(10_000);
      const algorithm = createAlgorithm('token-bucket', { limit: 5, windowMs: 1000, burst: 5 });
      await paused.consume('x', algorithm, 1);
      own.pause();
      const started = performance.now();
      await expect(paused.consume('x', algorithm, 1)).rejects.toThrow(/timed out/i);
      const waited = performance.now() - started;
      expect(waited).toBeGreaterThanOrEqual(90);
      expect(waited).toBeLessThan(100 + 500);
      own.resume();
    } finally {
      await paused.close();
      await own.stop();
    }
  });

  it('rejects a bad timeout with an error naming it', () => {
    expect(() => new RedisStore({ url: redis.url, timeoutMs: 0 })).toThrow(/timeoutMs/);
  });
});
