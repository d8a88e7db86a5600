import { describe, expect, it } from 'vitest';
import { createAlgorithm } from '../algorithms/index.js';
import { MemoryStore } from './memory.js';

const bucket = createAlgorithm('token-bucket', { limit: 10, windowMs: 1000, burst: 10 });

function clocked(options: { maxKeys?: number; touchEveryMs?: number } = {}) {
  const clock = { now: 1_728_000_000_000 };
  const store = new MemoryStore({ now: () => clock.now, sweepIntervalMs: 0, ...options });
  return { clock, store };
}

describe('memory store: bounded', () => {
  it('one million distinct keys leave the tracked-key count at the cap', () => {
    const { clock, store } = clocked({ maxKeys: 50_000 });
    for (let i = 0; i < 1_000_000; i++) {
      if (i % 1000 === 0) clock.now += 1;
      store.consume(`a:spoofed-${i}`, bucket, 1);
      if (store.trackedKeys() > 50_000) throw new Error(`over the cap at key ${i}`);
    }
    expect(store.trackedKeys()).toBe(50_000);
    expect(store.evicted).toBe(1_000_000 - 50_000);
  }, 60_000);

  it('the cap drops the least recently used key first, so an active client keeps its state', () => {
    const { clock, store } = clocked({ maxKeys: 100, touchEveryMs: 0 });
    for (let i = 0; i < 10; i++) store.consume('bad-actor', bucket, 1);
    expect(store.consume('bad-actor', bucket, 1).allowed).toBe(false);
    // A flood of new keys, while the bad actor keeps hammering.
    for (let i = 0; i < 10_000; i++) {
      store.consume(`flood-${i}`, bucket, 1);
      if (i % 50 === 0) expect(store.consume('bad-actor', bucket, 1).allowed).toBe(false);
    }
    expect(store.peek('bad-actor')).toBeDefined();
    expect(store.peek('flood-0')).toBeUndefined();
    void clock;
  });

  it('idle keys are forgotten once their state is back to full, and not before', () => {
    const { clock, store } = clocked();
    for (let i = 0; i < 5; i++) store.consume('a', bucket, 1);
    store.consume('b', bucket, 1);
    clock.now += 100; // b is full again (1 token per 100 ms); a needs 500 ms
    expect(store.sweep()).toBe(1);
    expect(store.peek('b')).toBeUndefined();
    expect(store.peek('a')).toBeDefined();
    clock.now += 400;
    expect(store.sweep()).toBe(1);
    expect(store.trackedKeys()).toBe(0);
    // Forgetting an idle key changes nothing: it comes back full.
    expect(store.consume('a', bucket, 1).remaining).toBe(9);
  });

  it('the sweep timer runs on its own and does not keep the process alive', async () => {
    const store = new MemoryStore({ sweepIntervalMs: 20 });
    store.consume('x', createAlgorithm('fixed-window', { limit: 5, windowMs: 1, burst: 5 }), 1);
    for (let i = 0; i < 100 && store.trackedKeys() > 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(store.trackedKeys()).toBe(0);
    store.close();
  });
});

describe('memory store: policy changes', () => {
  it('a reload with the same parameters keeps the state; different ones start afresh', () => {
    const { store } = clocked();
    for (let i = 0; i < 10; i++) store.consume('k', bucket, 1);
    const same = createAlgorithm('token-bucket', { limit: 10, windowMs: 1000, burst: 10 });
    expect(store.consume('k', same, 1).allowed).toBe(false);
    const bigger = createAlgorithm('token-bucket', { limit: 100, windowMs: 1000, burst: 100 });
    expect(store.consume('k', bigger, 1)).toMatchObject({ allowed: true, remaining: 99 });
    const other = createAlgorithm('sliding-window-log', { limit: 100, windowMs: 1000, burst: 100 });
    expect(store.consume('k', other, 1)).toMatchObject({ allowed: true, remaining: 99 });
  });

  it('clear and close forget everything', () => {
    const { store } = clocked();
    store.consume('k', bucket, 1);
    store.clear();
    expect(store.trackedKeys()).toBe(0);
    store.consume('k', bucket, 1);
    store.close();
    expect(store.trackedKeys()).toBe(0);
  });
});
