/**
 * `recordRequest` accumulates plainly and hands its counts to prom-client at scrape
 * time: the exposition must be exactly what prom-client's own `inc`/`observe` produce,
 * however often it is scraped, and after a registry reset.
 */
import { Counter, Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { createConfigChanges } from './config-changes.js';
import { createMetrics, LATENCY_BUCKETS } from './metrics.js';

function reference() {
  const registry = new Registry();
  registry.setDefaultLabels({ service: 'x' });
  const labelNames = ['route', 'method', 'status'] as const;
  const counter = new Counter({
    name: 'http_requests_total',
    help: 'HTTP requests answered, by route template, method and status.',
    labelNames,
    registers: [registry],
  });
  const histogram = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'Time from request received to response finished, by route template, method and status.',
    labelNames,
    buckets: LATENCY_BUCKETS,
    registers: [registry],
  });
  // Every service registry also carries the config-change gauges (lab_config_*).
  createConfigChanges(registry);
  return {
    registry,
    record(route: string, method: string, status: number, seconds: number) {
      const labels = { route, method, status: String(status) };
      counter.inc(labels);
      histogram.observe(labels, seconds);
    },
  };
}

const samples: [string, string, number, number][] = [
  ['/*', 'GET', 429, 0.00003],
  ['/*', 'GET', 429, 0.0004],
  ['/*', 'GET', 200, 0.003],
  ['/*', 'POST', 200, 0.7],
  ['/*', 'GET', 200, 12],
  ['/healthz', 'GET', 200, 0.001],
  ['/*', 'GET', 429, 0.0005],
];

describe('recordRequest: flushed at scrape time', () => {
  it('exposes exactly what prom-client inc/observe would, scrape after scrape and after a reset', async () => {
    const ours = createMetrics('x', { defaultMetrics: false });
    const theirs = reference();
    for (let round = 0; round < 3; round++) {
      for (const [route, method, status, seconds] of samples) {
        ours.recordRequest(route, method, status, seconds * (round + 1));
        theirs.record(route, method, status, seconds * (round + 1));
      }
      expect(await ours.registry.metrics()).toBe(await theirs.registry.metrics());
      // A second scrape with nothing new changes nothing.
      expect(await ours.registry.metrics()).toBe(await theirs.registry.metrics());
    }
    ours.registry.resetMetrics();
    theirs.registry.resetMetrics();
    ours.recordRequest('/*', 'GET', 429, 0.0001);
    theirs.record('/*', 'GET', 429, 0.0001);
    expect(await ours.registry.metrics()).toBe(await theirs.registry.metrics());
  });
});
