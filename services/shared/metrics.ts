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

/** Request-latency buckets (seconds): fine below 10 ms where a proxy hop lives, coarse up to 10 s. */
export const LATENCY_BUCKETS = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];

const HTTP_LABELS = ['route', 'method', 'status'] as const;

export interface ServiceMetrics {
  registry: Registry;
  /**
   * Records one finished request. Label children are cached per (route, method, status),
   * so the proxies can call this on their hot path without hashing label objects.
   */
  recordRequest(route: string, method: string, status: number, seconds: number): void;
}

/**
 * @param service - the `service` label on every series of this registry
 * @param [options.registry] - tests pass a fresh one
 * @param [options.defaultMetrics=true] - process metrics (CPU, heap, event-loop lag, GC)
 */
export function createMetrics(
  service: string,
  {
    registry = new Registry(),
    defaultMetrics = true,
  }: { registry?: Registry; defaultMetrics?: boolean } = {},
): ServiceMetrics {
  registry.setDefaultLabels({ service });
  if (defaultMetrics) collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 10 });

  const requests = new Counter({
    name: 'http_requests_total',
    help: 'HTTP requests answered, by route template, method and status.',
    labelNames: HTTP_LABELS,
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'Time from request received to response finished, by route template, method and status.',
    labelNames: HTTP_LABELS,
    buckets: LATENCY_BUCKETS,
    registers: [registry],
  });

  const children = new Map<
    string,
    { count: ReturnType<typeof requests.labels>; time: ReturnType<typeof duration.labels> }
  >();
  return {
    registry,
    recordRequest(route, method, status, seconds) {
      const id = `${route} ${method} ${status}`;
      let child = children.get(id);
      if (!child) {
        const labels = { route, method, status: String(status) };
        child = { count: requests.labels(labels), time: duration.labels(labels) };
        children.set(id, child);
      }
      child.count.inc();
      child.time.observe(seconds);
    },
  };
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
