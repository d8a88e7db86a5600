import { Counter, Gauge, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { createMetrics } from './metrics.js';
import { aggregateWorkerMetrics } from './worker-metrics.js';

/** One worker's registry, as `createMetrics` makes it, with `requests` recorded. */
async function worker(requests: number, inFlight: number, up: 0 | 1) {
  const metrics = createMetrics('balancer', { registry: new Registry() });
  for (let i = 0; i < requests; i++) metrics.recordRequest('/*', 'GET', 200, 0.001);
  new Gauge({
    name: 'lab_balancer_upstream_in_flight',
    help: 'h',
    labelNames: ['upstream'],
    registers: [metrics.registry],
  }).set({ upstream: 'node-1' }, inFlight);
  new Gauge({
    name: 'lab_balancer_upstream_up',
    help: 'h',
    labelNames: ['upstream'],
    registers: [metrics.registry],
    aggregator: 'min',
  }).set({ upstream: 'node-1' }, up);
  new Counter({ name: 'lab_x_total', help: 'h', registers: [metrics.registry] }).inc(requests);
  return metrics.registry.getMetricsAsJSON();
}

const lines = (text: string, name: string) =>
  text.split('\n').filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
const value = (text: string, name: string) => lines(text, name).map((l) => Number(l.split(' ').at(-1)));

describe('aggregateWorkerMetrics', () => {
  it('sums counters, histograms and per-upstream gauges; takes the minimum of up', async () => {
    const text = await aggregateWorkerMetrics([await worker(3, 1, 1), await worker(4, 2, 0)]).metrics();
    expect(value(text, 'http_requests_total')).toEqual([7]);
    expect(lines(text, 'http_requests_total')[0]).toContain('service="balancer"');
    expect(value(text, 'http_request_duration_seconds_count')).toEqual([7]);
    expect(value(text, 'lab_x_total')).toEqual([7]);
    expect(value(text, 'lab_balancer_upstream_in_flight')).toEqual([3]);
    expect(value(text, 'lab_balancer_upstream_up')).toEqual([0]);
  });

  it('process-wide metrics once (never a sum), event-loop lag the worst thread, heap summed', async () => {
    const a = await worker(0, 0, 1);
    const b = await worker(0, 0, 1);
    const pick = (json: typeof a, name: string) =>
      json.find((m) => m.name === name)?.values[0]?.value as number;
    const text = await aggregateWorkerMetrics([a, b]).metrics();
    const rss = value(text, 'process_resident_memory_bytes');
    expect(rss).toEqual([
      Math.max(pick(a, 'process_resident_memory_bytes'), pick(b, 'process_resident_memory_bytes')),
    ]);
    expect(value(text, 'process_cpu_seconds_total')).toEqual([
      Math.max(pick(a, 'process_cpu_seconds_total'), pick(b, 'process_cpu_seconds_total')),
    ]);
    expect(value(text, 'process_start_time_seconds')).toHaveLength(1);
    expect(value(text, 'nodejs_eventloop_lag_p99_seconds')).toEqual([
      Math.max(pick(a, 'nodejs_eventloop_lag_p99_seconds'), pick(b, 'nodejs_eventloop_lag_p99_seconds')),
    ]);
    expect(value(text, 'nodejs_heap_size_used_bytes')).toEqual([
      pick(a, 'nodejs_heap_size_used_bytes') + pick(b, 'nodejs_heap_size_used_bytes'),
    ]);
  });

  it('config-change marks every worker holds alike are one series with one value', async () => {
    const at = 1_700_000_000_000;
    const workers = [0, 1].map(() =>
      createMetrics('limiter', { registry: new Registry(), defaultMetrics: false }),
    );
    for (const m of workers) m.configChanges.record([{ setting: 'strategy', from: 'a', to: 'b' }], at);
    const text = await aggregateWorkerMetrics(
      await Promise.all(workers.map((m) => m.registry.getMetricsAsJSON())),
    ).metrics();
    expect(value(text, 'lab_config_change_timestamp_seconds')).toEqual([at / 1000]);
    expect(value(text, 'lab_config_generation')).toEqual([1]);
  });
});
