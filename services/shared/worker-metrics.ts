/**
 * @module
 * `GET /metrics` of a service run by several worker threads (`workers.ts`): whatever
 * worker the scrape lands on, it answers for the whole service. It gathers every
 * worker's registry (`registry.getMetricsAsJSON()`, which also runs each metric's
 * `collect()`, so the counts the hot path keeps in plain numbers are flushed first) and
 * merges them with prom-client's `AggregatorRegistry.aggregate`, series by series
 * (same name and labels), by each metric's `aggregator`:
 *
 * - `sum` (prom-client's default): counters (`http_requests_total`, `lab_*_total`),
 *   histograms, per-upstream `lab_balancer_upstream_in_flight`, and what each thread
 *   has of its own: V8 heap and external memory, GC, active handles and requests.
 * - the lab's gauges that every worker holds alike say so where they are defined:
 *   `max` for info metrics, config-change marks and `lab_ratelimit_tracked_keys` (one
 *   shared table), `min` for `lab_balancer_upstream_up` (see balancer/metrics.ts).
 * - prom-client's default process metrics are set here ({@link THREAD_AGGREGATORS}):
 *   CPU seconds, resident and virtual memory and file descriptors are process-wide, so
 *   every thread reads the same value (a few µs apart): the latest (`max`), never a sum;
 *   the start time is the earliest (`min`; prom-client omits it for cluster processes).
 *   Event-loop lag is per thread and aggregated by `max`: a request waits behind its
 *   own thread's loop, so the service is as late as its most crowded thread; prom-client's
 *   cluster defaults (mostly `average`) would hide one saturated loop behind idle ones,
 *   and a sum of lags means nothing.
 */
import type { MiddlewareHandler } from 'hono';
import { type Aggregator, AggregatorRegistry, type Registry } from 'prom-client';
import type { ServiceMetrics } from './metrics.js';
import type { WorkerGroup } from './worker-link.js';

type MetricsJson = Awaited<ReturnType<ServiceMetrics['registry']['getMetricsAsJSON']>>;

const LAG = [
  'nodejs_eventloop_lag_seconds',
  'nodejs_eventloop_lag_min_seconds',
  'nodejs_eventloop_lag_max_seconds',
  'nodejs_eventloop_lag_mean_seconds',
  'nodejs_eventloop_lag_stddev_seconds',
  'nodejs_eventloop_lag_p50_seconds',
  'nodejs_eventloop_lag_p90_seconds',
  'nodejs_eventloop_lag_p99_seconds',
];

const PROCESS_WIDE = [
  'process_cpu_user_seconds_total',
  'process_cpu_system_seconds_total',
  'process_cpu_seconds_total',
  'process_resident_memory_bytes',
  'process_virtual_memory_bytes',
  'process_heap_bytes',
  'process_open_fds',
  'process_max_fds',
];

/** How prom-client's default metrics merge across the threads of one process (the rest: their own `aggregator`). */
export const THREAD_AGGREGATORS: Readonly<Record<string, Aggregator>> = {
  ...Object.fromEntries(PROCESS_WIDE.map((name) => [name, 'max'])),
  ...Object.fromEntries(LAG.map((name) => [name, 'max'])),
  process_start_time_seconds: 'min',
};

/** One registry's text from every worker's metrics JSON (in worker order). */
export function aggregateWorkerMetrics(perWorker: MetricsJson[]): Registry {
  const adjusted = perWorker.map((metrics) =>
    metrics.map((m) => {
      const aggregator = THREAD_AGGREGATORS[m.name];
      return aggregator ? { ...m, aggregator } : m;
    }),
  );
  return AggregatorRegistry.aggregate(adjusted);
}

/**
 * `GET /metrics` for the whole service: every worker's registry, merged. A worker that
 * does not answer in time fails the scrape (503) rather than returning a partial sum,
 * which Prometheus would read as counters going backwards.
 */
export function workersMetricsHandler(metrics: ServiceMetrics, group: WorkerGroup): MiddlewareHandler {
  group.answer('metrics', () => metrics.registry.getMetricsAsJSON());
  return async function workersMetricsHandler(c) {
    let registry: Registry;
    try {
      registry = aggregateWorkerMetrics(await group.gather<MetricsJson>('metrics'));
    } catch (error) {
      return c.text(`metrics unavailable: ${(error as Error).message}\n`, 503);
    }
    return c.body(await registry.metrics(), 200, { 'Content-Type': metrics.registry.contentType });
  };
}
