/**
 * @module
 * The balancer's `lab_balancer_*` metrics (DESIGN.md), all computed at scrape time from
 * the upstream set: the hot path only bumps plain numbers on the `Upstream` (its
 * `counts` and `latency`). prom-client's labelled `inc`/`observe` hash and validate the
 * labels on every call (~2–4 µs each here), a tenth of a proxied request's CPU.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import { LATENCY_BUCKETS, type ServiceMetrics } from '../shared/metrics.js';
import { STRATEGY_NAMES, type StrategyName } from './strategies/index.js';
import type { Outcome, Upstream, UpstreamSet } from './upstreams.js';

const OUTCOMES: readonly Outcome[] = ['ok', 'error', 'timeout', 'retried'];

/**
 * `lab_balancer_upstream_duration_seconds`, a histogram whose values live on the
 * upstreams. A prom-client metric is any object with `name`, `help`, `type`, `get()`
 * and `reset()`; the registry adds the default labels (`service`).
 */
class UpstreamDurationHistogram {
  readonly name = 'lab_balancer_upstream_duration_seconds';
  readonly help = 'Time from sending a request to an upstream to its response headers.';
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  /** What `reset()` subtracts (tests reset the registry). */
  readonly #zero = new WeakMap<Upstream, { buckets: Float64Array; sum: number; count: number }>();

  constructor(readonly getSet: () => UpstreamSet) {}

  get() {
    const values: { labels: Record<string, string | number>; value: number; metricName: string }[] = [];
    for (const u of this.getSet().all) {
      const zero = this.#zero.get(u);
      let cumulative = 0;
      for (let i = 0; i < LATENCY_BUCKETS.length; i++) {
        cumulative += (u.latency.buckets[i] as number) - ((zero?.buckets[i] as number) ?? 0);
        values.push({
          labels: { le: LATENCY_BUCKETS[i] as number, upstream: u.id },
          value: cumulative,
          metricName: `${this.name}_bucket`,
        });
      }
      const count = u.latency.count - (zero?.count ?? 0);
      values.push({
        labels: { le: '+Inf', upstream: u.id },
        value: count,
        metricName: `${this.name}_bucket`,
      });
      values.push({
        labels: { upstream: u.id },
        value: u.latency.sum - (zero?.sum ?? 0),
        metricName: `${this.name}_sum`,
      });
      values.push({ labels: { upstream: u.id }, value: count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }

  reset() {
    for (const u of this.getSet().all) {
      this.#zero.set(u, { buckets: u.latency.buckets.slice(), sum: u.latency.sum, count: u.latency.count });
    }
  }
}

export function balancerMetrics(
  metrics: ServiceMetrics,
  getSet: () => UpstreamSet,
  getStrategy: () => StrategyName,
): void {
  const registers: Registry[] = [metrics.registry];
  /** Counts already handed to the counter, per upstream. */
  const flushed = new WeakMap<Upstream, Record<Outcome, number>>();
  new Counter({
    name: 'lab_balancer_upstream_requests_total',
    help: 'Tries sent to each upstream, by outcome: ok, error (5xx or failure), timeout, retried (failed, then retried on another upstream).',
    labelNames: ['upstream', 'outcome'],
    registers,
    collect() {
      for (const u of getSet().all) {
        let done = flushed.get(u);
        if (!done) {
          done = { ok: 0, error: 0, timeout: 0, retried: 0 };
          flushed.set(u, done);
          for (const outcome of OUTCOMES) this.inc({ upstream: u.id, outcome }, 0);
        }
        for (const outcome of OUTCOMES) {
          const delta = u.counts[outcome] - done[outcome];
          if (delta > 0) {
            this.inc({ upstream: u.id, outcome }, delta);
            done[outcome] = u.counts[outcome];
          }
        }
      }
    },
  });
  metrics.registry.registerMetric(new UpstreamDurationHistogram(getSet) as never);
  new Gauge({
    name: 'lab_balancer_upstream_in_flight',
    help: 'Requests sent to each upstream and not finished yet.',
    labelNames: ['upstream'],
    registers,
    collect() {
      this.reset();
      for (const u of getSet().all) this.set({ upstream: u.id }, u.inFlight);
    },
  });
  new Gauge({
    name: 'lab_balancer_upstream_up',
    help: '1 when the upstream may be picked, 0 when it is down or ejected.',
    labelNames: ['upstream'],
    registers,
    // Each worker thread checks and ejects on its own (workers.ts): up only if up in every one.
    aggregator: 'min',
    collect() {
      this.reset();
      for (const u of getSet().all) this.set({ upstream: u.id }, u.healthy ? 1 : 0);
    },
  });
  new Gauge({
    name: 'lab_balancer_strategy_info',
    help: 'The active load-balancing strategy (1) and the others (0).',
    labelNames: ['strategy'],
    registers,
    // Every worker applies every switch: the same value in each, never a sum.
    aggregator: 'max',
    collect() {
      const active = getStrategy();
      for (const name of STRATEGY_NAMES) this.set({ strategy: name }, name === active ? 1 : 0);
    },
  });
}
