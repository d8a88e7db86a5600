import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { SnapshotHub } from './live.js';
import type { Reads } from './snapshot.js';

const emptyReads = (at: number): Reads => ({
  at,
  balancer: { ok: false, error: 'off' },
  limiter: { ok: false, error: 'off' },
  nodes: [],
  traffic: { actors: [], goodLatency: { p50: 0, p95: 0, samples: 0 } },
  lab: { canKill: false },
});

describe('SnapshotHub', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('reads once per round for every listener, and stops when the last one leaves', async () => {
    let reads = 0;
    const hub = new SnapshotHub({ intervalMs: 500, read: async () => emptyReads(++reads * 500) });
    const a: number[] = [];
    const b: number[] = [];
    const leaveA = hub.subscribe((s) => a.push(s.t));
    const leaveB = hub.subscribe((s) => b.push(s.t));
    await vi.advanceTimersByTimeAsync(1_600);
    expect(reads).toBe(4); // at 0, 500, 1000 and 1500 ms: one poller, not one per listener
    expect(a).toEqual([0.5, 1, 1.5, 2]);
    expect(b).toEqual(a);
    leaveA();
    expect(hub.active).toBe(true);
    leaveB();
    expect(hub.listeners).toBe(0);
    expect(hub.active).toBe(false);
    await vi.advanceTimersByTimeAsync(5_000);
    expect(reads).toBe(4);
  });

  it('a new listener gets the latest snapshot at once, and polling starts again', async () => {
    let reads = 0;
    const hub = new SnapshotHub({ intervalMs: 500, read: async () => emptyReads(++reads * 500) });
    hub.subscribe(() => {})();
    await vi.advanceTimersByTimeAsync(0);
    const seen: number[] = [];
    hub.subscribe((s) => seen.push(s.t));
    expect(seen).toEqual([0.5]);
    await vi.advanceTimersByTimeAsync(0);
    expect(seen).toEqual([0.5, 1]);
  });
});
