/**
 * The lab_balancer_* metrics are computed at scrape time from plain numbers; the
 * exposition must match what prom-client's own Histogram/Counter would show.
 */
import { Counter, Histogram, Registry } from 'prom-client';
import type { Pool } from 'undici';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../shared/logger.js';
import { createMetrics, LATENCY_BUCKETS } from '../shared/metrics.js';
import type { ForwardOutcome } from '../shared/outcome.js';
import { balancerMetrics } from './metrics.js';
import { parseUpstreams, UpstreamSet } from './upstreams.js';

const outcome = (headersMs: number, o: Partial<ForwardOutcome> = {}): ForwardOutcome => ({
  status: 200,
  error: undefined,
  cause: undefined,
  sent: true,
  headersMs,
  durationMs: headersMs,
  draining: false,
  refused: false,
  ...o,
});

/** Lines of one metric family, without HELP/TYPE. */
const lines = (text: string, name: string) =>
  text.split('\n').filter((l) => l.startsWith(name) && !l.startsWith('#'));

describe('lab_balancer_* metrics', () => {
  it('histogram and counter expose what prom-client inc/observe would', async () => {
    const metrics = createMetrics('balancer', { defaultMetrics: false });
    const set = new UpstreamSet(parseUpstreams('a=http://127.0.0.1:1,b=http://127.0.0.1:2'), {
      log: createLogger('t', 'silent'),
      ejectAfter: 0,
      healthFall: 3,
      healthRise: 2,
      createPool: () => ({ close: async () => {} }) as unknown as Pool,
    });
    balancerMetrics(
      metrics,
      () => set,
      () => 'round-robin',
    );

    const reference = new Registry();
    reference.setDefaultLabels({ service: 'balancer' });
    const histogram = new Histogram({
      name: 'lab_balancer_upstream_duration_seconds',
      help: 'x',
      labelNames: ['upstream'],
      buckets: LATENCY_BUCKETS,
      registers: [reference],
    });
    const counter = new Counter({
      name: 'lab_balancer_upstream_requests_total',
      help: 'x',
      labelNames: ['upstream', 'outcome'],
      registers: [reference],
    });
    for (const u of ['a', 'b'])
      for (const o of ['ok', 'error', 'timeout', 'retried']) counter.inc({ upstream: u, outcome: o }, 0);

    const a = set.get('a');
    const b = set.get('b');
    if (!a || !b) throw new Error('missing');
    for (let round = 0; round < 2; round++) {
      for (const ms of [0.2, 1, 3, 40, 700, 20_000]) {
        set.recordTry(a, outcome(ms), false);
        histogram.observe({ upstream: 'a' }, ms / 1000);
        counter.inc({ upstream: 'a', outcome: 'ok' });
      }
      set.recordTry(b, outcome(-1, { status: 0, error: 'timeout', sent: false }), false);
      counter.inc({ upstream: 'b', outcome: 'timeout' });
      set.recordTry(b, outcome(5, { status: 503 }), false);
      histogram.observe({ upstream: 'b' }, 0.005);
      counter.inc({ upstream: 'b', outcome: 'error' });

      const ours = await metrics.registry.metrics();
      const theirs = await reference.metrics();
      const sortedLines = (text: string, name: string) =>
        lines(text, name)
          .map((l) => l.replace(/\{(.*)\}/, (_m, inner: string) => `{${inner.split(',').sort().join(',')}}`))
          .sort();
      for (const name of ['lab_balancer_upstream_duration_seconds', 'lab_balancer_upstream_requests_total']) {
        expect(sortedLines(ours, name)).toEqual(sortedLines(theirs, name));
      }
    }
    const text = await metrics.registry.metrics();
    expect(text).toMatch(/lab_balancer_upstream_up\{upstream="a",service="balancer"\} 1/);
    expect(text).toMatch(/lab_balancer_strategy_info\{strategy="round-robin",service="balancer"\} 1/);
    expect(text).toMatch(/lab_balancer_upstream_in_flight\{upstream="b",service="balancer"\} 0/);
  });
});
