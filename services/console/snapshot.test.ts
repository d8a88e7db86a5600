import { describe, expect, it } from 'vitest';
import type { BalancerState, UpstreamState } from '../balancer/state.js';
import { buildSnapshot, type NodeStats, type Reads } from './snapshot.js';

const upstream = (name: string, url: string, ok: number, healthy = true): UpstreamState => ({
  name,
  url,
  weight: 1,
  healthy,
  down_reason: null,
  in_flight: 1,
  ewma_ms: 2,
  requests: { ok, error: 1, timeout: 0, retried: 5 },
  consecutive_failures: 0,
  last_error: null,
  last_check: null,
});

const stats = (id: string, loadFactor: number): NodeStats => ({
  node_id: id,
  active_requests: 0,
  load_factor: loadFactor,
  latency_ms: 0,
  fail_rate: 0,
  requests_total: 0,
});

function reads(at: number, okPerNode: [number, number], actorOk: number): Reads {
  const balancer: BalancerState = {
    strategy: 'least-connections',
    healthy: 2,
    upstreams: [
      upstream('127.0.0.1:5001', 'http://127.0.0.1:5001', okPerNode[0]),
      upstream('127.0.0.1:5002', 'http://127.0.0.1:5002', okPerNode[1]),
      upstream('10.0.0.9:8080', 'http://10.0.0.9:8080', 7, false),
    ],
  };
  return {
    at,
    balancer: { ok: true, value: balancer },
    limiter: {
      ok: true,
      value: {
        policies: {
          default: { algorithm: 'gcra', limit: 10, window: 1000 },
          clients: { partner: { exempt: true } },
        },
      },
    },
    nodes: [
      { name: 'node-1', url: 'http://127.0.0.1:5001', stats: { ok: true, value: stats('1', 30) } },
      { name: 'node-2', url: 'http://127.0.0.1:5002', stats: { ok: false, error: 'ECONNREFUSED' } },
    ],
    traffic: {
      actors: [{ name: 'good_user', running: true, rate: 5, ok: actorOk, limited: 2, errors: 0 }],
      goodLatency: { p50: 3, p95: 9, samples: 10 },
    },
    lab: { canKill: false, reason: 'not here' },
  };
}

describe('buildSnapshot', () => {
  it('joins each node of NODE_URLS with the balancer upstream of the same URL, and lists the others', () => {
    const { snapshot } = buildSnapshot(reads(1_000, [10, 20], 4));
    expect(snapshot.strategy).toBe('least-connections');
    expect(snapshot.algorithm).toBe('gcra');
    expect(snapshot.nodes.map((n) => [n.name, n.controllable, n.requests, n.loadFactor])).toEqual([
      ['node-1', true, 11, 30],
      ['node-2', true, 21, undefined],
      ['10.0.0.9:8080', false, 8, undefined],
    ]);
    expect(snapshot.nodes[1]?.reachable).toBe(false);
    expect(snapshot.problems).toEqual(['node-2: ECONNREFUSED']);
    expect(snapshot.policies).toEqual([
      { name: 'default', exempt: false, algorithm: 'gcra', limit: 10, windowMs: 1000 },
      { name: 'partner', exempt: true },
    ]);
    expect(snapshot.lab).toEqual({ canKill: false, reason: 'not here' });
  });

  it('rates are the growth since the previous snapshot, per second (0 for the first)', () => {
    const first = buildSnapshot(reads(1_000, [10, 20], 4));
    expect(first.snapshot.nodes.map((n) => n.perSecond)).toEqual([0, 0, 0]);
    const second = buildSnapshot(reads(1_500, [15, 20], 9), first.totals);
    expect(second.snapshot.nodes.map((n) => n.perSecond)).toEqual([10, 0, 0]);
    expect(second.snapshot.actors[0]).toMatchObject({ okPerSecond: 10, limitedPerSecond: 0 });
    expect(second.snapshot.t).toBe(1.5);
  });

  it('a counter that went back (the balancer restarted) counts from zero', () => {
    const first = buildSnapshot(reads(1_000, [100, 20], 4));
    const second = buildSnapshot(reads(2_000, [3, 20], 4), first.totals);
    expect(second.snapshot.nodes[0]?.perSecond).toBe(4);
  });

  it('a service that does not answer is named, and its part is empty', () => {
    const failed = reads(1_000, [1, 1], 0);
    failed.balancer = { ok: false, error: 'balancer did not answer: ECONNREFUSED' };
    failed.limiter = { ok: false, error: 'limiter answered 401: unauthorized' };
    const { snapshot } = buildSnapshot(failed);
    expect(snapshot.strategy).toBeUndefined();
    expect(snapshot.algorithm).toBeUndefined();
    expect(snapshot.policies).toEqual([]);
    expect(snapshot.nodes.map((n) => n.healthy)).toEqual([undefined, undefined]);
    expect(snapshot.problems).toEqual([
      'balancer: balancer did not answer: ECONNREFUSED',
      'node-2: ECONNREFUSED',
      'limiter: limiter answered 401: unauthorized',
    ]);
  });
});
