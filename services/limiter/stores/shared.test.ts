/**
 * The shared store on one thread, with an injected clock: the shared edge-case table
 * (`algorithms/cases.ts`, as the memory and Redis stores pass it), decision-for-decision
 * agreement with the reference store (the algorithm over a `Map`) on random arrivals, then its own duties: the key cap,
 * eviction, idle reclaim, policy changes, the log capacity, clear. Across threads:
 * `shared.threads.test.ts`.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { algorithmCases, CASE_START, replayCase } from '../algorithms/cases.js';
import { ALGORITHM_NAMES, createAlgorithm } from '../algorithms/index.js';
import { arrivalsArb, ReferenceStore } from '../algorithms/testing.js';
import { compilePolicies, unsupportedPolicies } from '../policies.js';
import { createMemoryTable } from './index.js';
import { createSharedTable, DEFAULT_LOG_CAPACITY, SharedStore } from './shared.js';

const bucket = createAlgorithm('token-bucket', { limit: 10, windowMs: 1000, burst: 10 });
/** Refills 10 per hour: a drained key stays busy (not idle) for the length of a test. */
const slow = createAlgorithm('token-bucket', { limit: 10, windowMs: 3_600_000, burst: 10 });

function clocked(options: { maxKeys?: number; logCapacity?: number } = {}) {
  const clock = { now: CASE_START };
  const table = createSharedTable({ maxKeys: 1000, ...options });
  const store = new SharedStore(table, { now: () => clock.now, sweepIntervalMs: 0 });
  return { clock, table, store };
}

describe('the shared edge-case table, shared store', () => {
  for (const testCase of algorithmCases) {
    it(testCase.name, async () => {
      const { clock, store } = clocked();
      const algorithm = createAlgorithm(testCase.algorithm, testCase.params);
      const consume = (at: number, cost: number) => {
        clock.now = at;
        return store.consume('case', algorithm, cost);
      };
      expect(await replayCase(testCase, consume)).toEqual([]);
    });
  }
});

describe('shared store = the reference store, decision for decision', () => {
  const params = fc.record({
    limit: fc.integer({ min: 1, max: 12 }),
    windowMs: fc.constantFrom(1, 7, 100, 333, 1000, 60_000),
    burst: fc.integer({ min: 1, max: 12 }),
  });
  for (const name of ALGORITHM_NAMES) {
    it(`${name}: random arrivals and costs over three keys`, () => {
      fc.assert(
        fc.property(params, arrivalsArb({ maxCost: 4, maxLength: 60 }), (p, arrivals) => {
          const algorithm = createAlgorithm(name, p);
          const clock = { now: CASE_START };
          const shared = new SharedStore(createSharedTable({ maxKeys: 100 }), {
            now: () => clock.now,
            sweepIntervalMs: 0,
          });
          const reference = new ReferenceStore(() => clock.now);
          arrivals.forEach(({ at, cost }, i) => {
            clock.now = at;
            const key = `k${i % 3}`;
            const c = Math.min(cost, algorithm.maxCost);
            expect(shared.consume(key, algorithm, c)).toEqual(reference.consume(key, algorithm, c));
          });
        }),
        { numRuns: 100 },
      );
    });
  }
});

describe('shared store: bounded', () => {
  it('100 000 keys cost a few MB, preallocated', () => {
    const table = createSharedTable({ maxKeys: 100_000 });
    expect(table.headers.byteLength + table.states.byteLength + table.locks.byteLength).toBeLessThan(6e6);
  });

  it('a flood of distinct keys leaves the tracked-key count at the cap', () => {
    const { clock, store } = clocked({ maxKeys: 5_000 });
    for (let i = 0; i < 100_000; i++) {
      if (i % 100 === 0) clock.now += 1;
      store.consume(`a:spoofed-${i}`, slow, 1);
      if (store.trackedKeys() > 5_000) throw new Error(`over the cap at key ${i}`);
    }
    expect(store.trackedKeys()).toBe(5_000);
    expect(store.evicted).toBe(100_000 - 5_000);
  });

  it('the cap drops the least recently used of a neighbourhood first, so an active client keeps its state', () => {
    const { clock, store } = clocked({ maxKeys: 100 });
    for (let i = 0; i < 10; i++) store.consume('bad-actor', slow, 1);
    for (let i = 0; i < 10_000; i++) {
      clock.now += 1;
      store.consume(`flood-${i}`, slow, 10);
      if (i % 20 === 0) expect(store.consume('bad-actor', slow, 1).allowed).toBe(false);
    }
    expect(store.evicted).toBe(10_000 - 99);
    // flood-0 was dropped: it comes back with a full bucket.
    expect(store.consume('flood-0', slow, 10).allowed).toBe(true);
  });

  it('a new key in a full neighbourhood takes an idle slot before a busy one', () => {
    const { clock, store } = clocked({ maxKeys: 4 });
    for (const key of ['a', 'b', 'c']) store.consume(key, slow, 10);
    store.consume('quick', bucket, 1);
    clock.now += 100; // quick is full again; a, b, c are still drained
    store.consume('new', bucket, 1);
    expect(store.swept).toBe(1);
    expect(store.evicted).toBe(0);
    for (const key of ['a', 'b', 'c']) expect(store.consume(key, slow, 1).allowed).toBe(false);
  });

  it('idle keys are swept once their state is back to full, and not before', () => {
    const { clock, store } = clocked();
    for (let i = 0; i < 5; i++) store.consume('a', bucket, 1);
    store.consume('b', bucket, 1);
    clock.now += 100; // b is full again (1 token per 100 ms); a needs 500 ms
    expect(store.sweep()).toBe(1);
    expect(store.trackedKeys()).toBe(1);
    clock.now += 400;
    expect(store.sweep()).toBe(1);
    expect(store.trackedKeys()).toBe(0);
    expect(store.consume('a', bucket, 1).remaining).toBe(9);
  });

  it('the sweep timer runs on its own and does not keep the process alive', async () => {
    const store = new SharedStore(createSharedTable({ maxKeys: 10 }), { sweepIntervalMs: 20 });
    store.consume('x', createAlgorithm('fixed-window', { limit: 5, windowMs: 1, burst: 5 }), 1);
    for (let i = 0; i < 100 && store.trackedKeys() > 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(store.trackedKeys()).toBe(0);
    store.close();
  });
});

describe('shared store: policies and the table', () => {
  it('a reload with the same parameters keeps the state; different ones start afresh', () => {
    const { store } = clocked();
    for (let i = 0; i < 10; i++) store.consume('k', bucket, 1);
    const same = createAlgorithm('token-bucket', { limit: 10, windowMs: 1000, burst: 10 });
    expect(store.consume('k', same, 1).allowed).toBe(false);
    const bigger = createAlgorithm('token-bucket', { limit: 100, windowMs: 1000, burst: 100 });
    expect(store.consume('k', bigger, 1)).toMatchObject({ allowed: true, remaining: 99 });
    const log = createAlgorithm('sliding-window-log', { limit: 100, windowMs: 1000, burst: 100 });
    expect(store.consume('k', log, 1)).toMatchObject({ allowed: true, remaining: 99 });
    expect(store.trackedKeys()).toBe(1);
  });

  it('two stores over one table share every key', () => {
    const { clock, table, store } = clocked();
    const other = new SharedStore(table, { now: () => clock.now, sweepIntervalMs: 0 });
    for (let i = 0; i < 5; i++) store.consume('k', bucket, 1);
    expect(other.consume('k', bucket, 5)).toMatchObject({ allowed: true, remaining: 0 });
    expect(store.consume('k', bucket, 1).allowed).toBe(false);
    expect(other.trackedKeys()).toBe(1);
  });

  it('refuses a sliding log longer than the table holds, naming the limit and the alternatives', () => {
    const { store } = clocked({ logCapacity: 1000 });
    const fits = createAlgorithm('sliding-window-log', { limit: 1000, windowMs: 1000, burst: 1000 });
    expect(store.consume('k', fits, 1000)).toMatchObject({ allowed: true, remaining: 0 });
    const tooLong = createAlgorithm('sliding-window-log', { limit: 1001, windowMs: 1000, burst: 1001 });
    const refusal =
      /limit 1001 .* holds 1000; restart the limiter with this policy .* or use RATE_LIMIT_STORE=redis/;
    expect(() => store.assertSupported(tooLong)).toThrow(refusal);
    expect(() => store.consume('k', tooLong, 1)).toThrow(refusal);
  });

  it('clear forgets every key for every store of the table; close keeps them', () => {
    const { clock, table, store } = clocked();
    for (let i = 0; i < 50; i++) store.consume(`k${i}`, bucket, 10);
    store.close();
    expect(store.trackedKeys()).toBe(50);
    const other = new SharedStore(table, { now: () => clock.now, sweepIntervalMs: 0 });
    other.clear();
    expect(store.trackedKeys()).toBe(0);
    expect(store.consume('k0', bucket, 1).remaining).toBe(9);
  });

  it('rejects a bad table size with an error naming it', () => {
    expect(() => createSharedTable({ maxKeys: 0 })).toThrow(/maxKeys/);
    expect(() => createSharedTable({ maxKeys: 10, logCapacity: -1 })).toThrow(/logCapacity/);
  });
});

describe('the memory table of a limiter (stores/index.ts)', () => {
  const policies = (input: unknown) => compilePolicies(input, 'test');
  it('holds a sliding log as long as the longest of the start-up policies, at least the default', () => {
    const buckets = policies({ default: { algorithm: 'token-bucket', limit: 5000, window: '1s' } });
    expect(createMemoryTable(10, buckets).logCapacity).toBe(DEFAULT_LOG_CAPACITY);
    const long = policies({
      default: { algorithm: 'token-bucket', limit: 10, window: '1s' },
      clients: { batch: { algorithm: 'sliding-window-log', limit: 600, window: '60s' } },
    });
    const table = createMemoryTable(10, long);
    expect(table.logCapacity).toBe(600);
    expect(table.maxKeys).toBe(10);
    const store = new SharedStore(table, { sweepIntervalMs: 0 });
    expect(unsupportedPolicies(long, store)).toEqual([]);
    // A reload may not bring a longer log than the table was sized for.
    const longer = policies({ default: { algorithm: 'sliding-window-log', limit: 601, window: '60s' } });
    expect(unsupportedPolicies(longer, store)).toEqual([
      { path: 'default', message: expect.stringMatching(/limit 601 needs 601 log entries .* holds 600/) },
    ]);
  });
});
