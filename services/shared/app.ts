/**
 * @module
 * The Hono app every service starts from: request metrics, `GET /healthz`,
 * `GET /metrics` and the guarded `/admin` routes. Each service adds its own routes.
 */
import { Hono, type MiddlewareHandler } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { z } from 'zod';
import { adminApp, type LiveConfig } from './admin.js';
import { fields } from './config.js';
import { DRAINING_BODY, type Drain } from './drain.js';
import type { Logger } from './logger.js';
import { httpMetrics, metricsHandler, type ServiceMetrics } from './metrics.js';
import type { WorkerGroup } from './worker-link.js';
import { workersMetricsHandler } from './worker-metrics.js';

/** Config fields every service reads, with the same variable names everywhere. */
export const commonConfig = {
  host: fields.host(),
  adminToken: fields.adminToken(),
  logLevel: fields.logLevel(),
  shutdownTimeoutMs: fields.shutdownTimeoutMs(),
  headersTimeoutMs: fields.headersTimeoutMs(),
  requestTimeoutMs: fields.requestTimeoutMs(),
  drainDelayMs: fields.drainDelayMs(),
  bodyLimit: fields.bodyLimit(),
};

export interface ServiceAppOptions<Update extends z.ZodType> {
  metrics: ServiceMetrics;
  log: Logger;
  adminToken: string | undefined;
  live: LiveConfig<Update>;
  /** Extra routes under `/admin` (already behind the guard), e.g. the balancer's `/state`. */
  adminRoutes?: (admin: Hono) => void;
  /** Middleware that must see every request, the shared routes' too (after the metrics one). */
  middleware?: MiddlewareHandler[];
  /** The shutdown phase: `/healthz` answers 503 `{"status":"draining"}` while draining. */
  drain?: Drain;
  /**
   * The other worker threads of this service (`WORKERS` > 1, see `workers.ts`): `/metrics`
   * answers for all of them, and `PUT /admin/config` applies to all of them.
   */
  workers?: WorkerGroup;
}

/**
 * @returns the base app; add the service's routes to it.
 * @example
 * const app = createServiceApp({ metrics, log, adminToken: config.adminToken, live });
 * app.get('/', (c) => c.json({ message: 'Node is running' }));
 */
export function createServiceApp<Update extends z.ZodType>({
  metrics,
  log,
  adminToken,
  live,
  adminRoutes,
  middleware = [],
  drain,
  workers,
}: ServiceAppOptions<Update>): Hono {
  const app = new Hono();
  app.use('*', httpMetrics(metrics), ...middleware);
  app.get('/healthz', (c) => (drain?.draining ? c.json(DRAINING_BODY, 503) : c.json({ status: 'ok' })));
  app.get('/metrics', workers ? workersMetricsHandler(metrics, workers) : metricsHandler(metrics));
  const admin = adminApp({ token: adminToken, live, log, changes: metrics.configChanges, workers });
  adminRoutes?.(admin);
  app.route('/admin', admin);
  app.onError((error, c) => {
    if (error instanceof HTTPException) {
      // Through the context, so the headers middleware set before the refusal stay on it
      // (the node's X-Node-ID on an admin 401).
      const refusal = error.getResponse();
      return c.newResponse(refusal.body, refusal);
    }
    log.error('unhandled_error', { error, path: c.req.path });
    return c.json({ error: 'internal error' }, 500);
  });
  return app;
}
