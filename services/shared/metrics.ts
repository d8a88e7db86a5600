/**
 * @module
 * One Prometheus registry per service: default process metrics (event-loop lag shows
 * an overloaded node), the HTTP request counter and histogram, and `GET /metrics`.
 *
 * Labels stay bounded: `route` is the route *template* (`/data/:key`), never the raw
 * path, and the proxies label everything they forward as the catch-all route `/*`.
 */
import type { MiddlewareHandler } from 'hono';
import { routePath } from 'hono/route';
import { Counter, collectDefaultMetrics, Histogram, Registry } from 'prom-client';
import { type ConfigChanges, createConfigChanges } from './config-changes.js';

/** Request-latency buckets (seconds): fine below 10 ms where a proxy hop lives, coarse up to 10 s. */
export const LATENCY_BUCKETS = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];

const HTTP_LABELS = ['route', 'method', 'status'] as const;

export interface ServiceMetrics {
  registry: Registry;
  /**
   * Records one finished request: a few plain increments per (route, method, status),
   * handed to the counter and the histogram when Prometheus scrapes, so the proxies can
   * call this on their hot path.
   */
  recordRequest(route: string, method: string, status: number, seconds: number): void;
  /** Live config changes as metrics (`lab_config_*`), fed by `PUT /admin/config`. */
  configChanges: ConfigChanges;
}

/**
 * @param service - the `service` label on every series of this registry
 * @param [options.registry] - tests pass a fresh one
 * @param [options.defaultMetrics=true] - process metrics (CPU, heap, event-loop lag, GC)
 * @param [options.now=Date.now] - the clock of the config-change marks, in ms
 */
export function createMetrics(
  service: string,
  {
    registry = new Registry(),
    defaultMetrics = true,
    now = Date.now,
  }: { registry?: Registry; defaultMetrics?: boolean; now?: () => number } = {},
): ServiceMetrics {
  registry.setDefaultLabels({ service });
  if (defaultMetrics) collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 10 });

  /** Pending counts per label set, handed to prom-client when Prometheus scrapes. */
  const children = new Map<string, Child>();
  new Counter({
    name: 'http_requests_total',
    help: 'HTTP requests answered, by route template, method and status.',
    labelNames: HTTP_LABELS,
    registers: [registry],
    collect() {
      for (const child of children.values()) {
        if (child.requests > 0) {
          this.inc(child.labels, child.requests);
          child.requests = 0;
        }
      }
    },
  });
  new Histogram({
    name: 'http_request_duration_seconds',
    help: 'Time from request received to response finished, by route template, method and status.',
    labelNames: HTTP_LABELS,
    buckets: LATENCY_BUCKETS,
    registers: [registry],
    collect() {
      for (const child of children.values()) {
        if (child.count > 0) flushHistogram(this as unknown as HistogramInternals, child);
      }
    },
  });

  return {
    registry,
    configChanges: createConfigChanges(registry, { now }),
    recordRequest(route, method, status, seconds) {
      const id = `${route} ${method} ${status}`;
      let child = children.get(id);
      if (!child) {
        child = {
          labels: { route, method, status: String(status) },
          requests: 0,
          count: 0,
          sum: 0,
          buckets: new Float64Array(LATENCY_BUCKETS.length),
        };
        children.set(id, child);
      }
      child.requests++;
      child.count++;
      child.sum += seconds;
      const buckets = child.buckets;
      for (let i = 0; i < LATENCY_BUCKETS.length; i++) {
        if (seconds <= (LATENCY_BUCKETS[i] as number)) {
          buckets[i] = (buckets[i] as number) + 1;
          break;
        }
      }
    },
  };
}

/**
 * One label set's observations since the last scrape. `recordRequest` runs on the
 * proxies' hot path, where prom-client's labelled `inc`/`observe` (a label hash and a
 * label validation per call, twice) measured ~1 µs per request, several per cent of a
 * 429; plain increments here, handed over in `collect()`.
 */
interface Child {
  labels: { route: string; method: string; status: string };
  requests: number;
  count: number;
  sum: number;
  /** Non-cumulative counts per LATENCY_BUCKETS bound (beyond the last: only in count). */
  buckets: Float64Array;
}

/** The parts of prom-client 15's Histogram that a bulk flush needs (it has no bulk API). */
interface HistogramInternals {
  hashMap: Record<
    string,
    { labels: Child['labels']; bucketValues: Record<string, number>; sum: number; count: number }
  >;
  zero(labels: Child['labels']): void;
}

function flushHistogram(histogram: HistogramInternals, child: Child) {
  const same = (labels: Child['labels']) =>
    labels.route === child.labels.route &&
    labels.method === child.labels.method &&
    labels.status === child.labels.status;
  let entry = Object.values(histogram.hashMap).find((e) => same(e.labels));
  if (!entry) {
    histogram.zero(child.labels);
    entry = Object.values(histogram.hashMap).find((e) => same(e.labels));
  }
  if (!entry) throw new Error('prom-client histogram internals changed: cannot flush request durations');
  entry.count += child.count;
  entry.sum += child.sum;
  for (let i = 0; i < LATENCY_BUCKETS.length; i++) {
    const n = child.buckets[i] as number;
    if (n > 0)
      entry.bucketValues[LATENCY_BUCKETS[i] as number] =
        (entry.bucketValues[LATENCY_BUCKETS[i] as number] ?? 0) + n;
  }
  child.count = 0;
  child.sum = 0;
  child.buckets.fill(0);
}

/** Methods outside this set are labelled `OTHER`, so a client cannot invent label values. */
const KNOWN_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);
export const methodLabel = (method: string | undefined) =>
  method && KNOWN_METHODS.has(method) ? method : 'OTHER';

/**
 * Hono middleware recording every request, failed ones too (`finally`).
 * An unmatched path is labelled `unmatched`, so scanners cannot grow the series.
 */
export function httpMetrics(metrics: ServiceMetrics): MiddlewareHandler {
  return async function httpMetrics(c, next) {
    const start = performance.now();
    try {
      await next();
    } finally {
      const route = routePath(c, -1);
      metrics.recordRequest(
        route === '/*' || route === '*' ? 'unmatched' : route,
        methodLabel(c.req.method),
        c.res.status,
        (performance.now() - start) / 1000,
      );
    }
  };
}

/** `GET /metrics` in the Prometheus text format. */
export function metricsHandler(metrics: ServiceMetrics): MiddlewareHandler {
  return async function metricsHandler(c) {
    return c.body(await metrics.registry.metrics(), 200, { 'Content-Type': metrics.registry.contentType });
  };
}
