import { describe, expect, it } from 'vitest';
import { parseAdminState, parseBalancerMetrics, upstreamFor } from './balancer-info.js';

describe('balancer metrics', () => {
  it('reads the active strategy and per-upstream load', () => {
    const info = parseBalancerMetrics(
      [
        '# HELP lab_balancer_strategy_info active strategy',
        'lab_balancer_strategy_info{strategy="round-robin"} 0',
        'lab_balancer_strategy_info{strategy="least-connections"} 1',
        'lab_balancer_upstream_in_flight{upstream="node-1"} 3',
        'lab_balancer_upstream_up{upstream="node-1"} 1',
        'lab_balancer_upstream_up{upstream="node-2"} 0',
      ].join('\n'),
    );
    expect(info.strategy).toBe('least-connections');
    expect(info.upstreams).toEqual({ 'node-1': { inFlight: 3, up: true }, 'node-2': { up: false } });
    expect(upstreamFor(info, 'node-2')).toEqual({ up: false });
  });
  it('reads the same from /admin/state when a token is given', () => {
    const info = parseAdminState({
      strategy: 'power-of-two',
      upstreams: [
        { name: '127.0.0.1:5001', in_flight: 2, healthy: true },
        { name: '127.0.0.1:5002', in_flight: 0, healthy: false },
      ],
    });
    expect(info).toEqual({
      strategy: 'power-of-two',
      upstreams: {
        '127.0.0.1:5001': { inFlight: 2, up: true },
        '127.0.0.1:5002': { inFlight: 0, up: false },
      },
    });
  });
});
