/**
 * @module
 * The balancer's `lab_balancer_*` metrics (DESIGN.md). Gauges are computed at scrape
 * time from the upstream set, so the hot path only touches a cached counter child and
 * a histogram child per try.
 */
import { Counter, Gauge, Histogram } from 'prom-client';
import { LATENCY_BUCKETS, type ServiceMetrics } from '../shared/metrics.js';
import { STRATEGY_NAMES, type StrategyName } from './strategies/index.js';
import type { Outcome, Upstream, UpstreamEvents, UpstreamSet } from './upstreams.js';

export function balancerMetrics(
  metrics: ServiceMetrics,
  getSet: () => UpstreamSet,
  getStrategy: () => StrategyName,
): UpstreamEvents {
  const registers = [metrics.registry];
  const requests = new Counter({
    name: 'lab_balancer_upstream_requests_total',
    help: 'Tries sent to each upstream, by outcome: ok, error (5xx or failure), timeout, retried (failed, then retried on another upstream).',
    labelNames: ['upstream', 'outcome'],
    registers,
  });
  const duration = new Histogram({
    name: 'lab_balancer_upstream_duration_seconds',
    help: 'Time from sending a request to an upstream to its response headers.',
    labelNames: ['upstream'],
    buckets: LATENCY_BUCKETS,
    registers,
  });
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
    collect() {
      const active = getStrategy();
      for (const name of STRATEGY_NAMES) this.set({ strategy: name }, name === active ? 1 : 0);
    },
  });

  const counterChildren = new WeakMap<Upstream, Record<Outcome, ReturnType<typeof requests.labels>>>();
  const durationChildren = new WeakMap<Upstream, ReturnType<typeof duration.labels>>();
  return {
    onOutcome(upstream, outcome, seconds) {
      let counters = counterChildren.get(upstream);
      if (!counters) {
        const upstreamLabel = upstream.id;
        counters = {
          ok: requests.labels(upstreamLabel, 'ok'),
          error: requests.labels(upstreamLabel, 'error'),
          timeout: requests.labels(upstreamLabel, 'timeout'),
          retried: requests.labels(upstreamLabel, 'retried'),
        };
        counterChildren.set(upstream, counters);
      }
      counters[outcome].inc();
      if (seconds !== undefined) {
        let child = durationChildren.get(upstream);
        if (!child) {
          child = duration.labels(upstream.id);
          durationChildren.set(upstream, child);
        }
        child.observe(seconds);
      }
    },
  };
}
