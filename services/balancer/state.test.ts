import { describe, expect, it } from 'vitest';
import { type BalancerState, combineStates, type UpstreamState } from './state.js';

const upstream = (over: Partial<UpstreamState> = {}): UpstreamState => ({
  name: 'node-1',
  url: 'http://127.0.0.1:5001',
  weight: 1,
  healthy: true,
  down_reason: null,
  in_flight: 0,
  ewma_ms: 0,
  requests: { ok: 0, error: 0, timeout: 0, retried: 0 },
  consecutive_failures: 0,
  last_error: null,
  last_check: null,
  ...over,
});
const state = (...upstreams: UpstreamState[]): BalancerState => ({
  strategy: 'round-robin',
  healthy: upstreams.filter((u) => u.healthy).length,
  upstreams,
});

describe('combineStates', () => {
  it('sums in-flight and counts, weights the latency estimates by tries', () => {
    const combined = combineStates([
      state(upstream({ in_flight: 2, ewma_ms: 10, requests: { ok: 3, error: 1, timeout: 0, retried: 0 } })),
      state(upstream({ in_flight: 1, ewma_ms: 40, requests: { ok: 2, error: 0, timeout: 1, retried: 1 } })),
    ]);
    expect(combined).toMatchObject({ strategy: 'round-robin', workers: 2, healthy: 1 });
    expect(combined.upstreams[0]).toMatchObject({
      in_flight: 3,
      requests: { ok: 5, error: 1, timeout: 1, retried: 1 },
      ewma_ms: 25,
      healthy: true,
      healthy_workers: 2,
    });
  });

  it('an upstream is healthy only if every worker has it healthy; the first down reason', () => {
    const combined = combineStates([
      state(upstream({ last_check: '2026-12-03T10:00:01.000Z' }), upstream({ name: 'node-2' })),
      state(
        upstream({
          healthy: false,
          down_reason: 'health check failed 3 times',
          consecutive_failures: 4,
          last_error: 'ECONNREFUSED',
          last_check: '2026-12-03T10:00:02.000Z',
        }),
        upstream({ name: 'node-2' }),
      ),
    ]);
    expect(combined.healthy).toBe(1);
    expect(combined.upstreams.map((u) => u.name)).toEqual(['node-1', 'node-2']);
    expect(combined.upstreams[0]).toMatchObject({
      healthy: false,
      healthy_workers: 1,
      down_reason: 'health check failed 3 times',
      consecutive_failures: 4,
      last_error: 'ECONNREFUSED',
      last_check: '2026-12-03T10:00:02.000Z',
    });
  });
});
