/**
 * @module
 * The backend node, compatible with the original workshop's node: `GET /`, `/health`,
 * `/stats`, `POST /data`, `GET /data/:key`, with `X-Node-ID` and `X-Active-Requests`
 * (counting the request itself) on every response.
 *
 * Overload is simulated on the data routes only, so `/health` always answers fast:
 * `loadFactor` runs naive fib(n) on the event loop (CPU-bound, so concurrent requests
 * really queue behind each other), `latencyMs` waits without blocking, and `failRate`
 * answers that fraction of data requests with 500.
 */
import type { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { Gauge } from 'prom-client';
import { z } from 'zod';
import type { LiveConfig } from '../shared/admin.js';
import { createServiceApp } from '../shared/app.js';
import { discardUnreadBody } from '../shared/discard.js';
import { DRAINING_BODY, type Drain } from '../shared/drain.js';
import type { Logger } from '../shared/logger.js';
import type { ServiceMetrics } from '../shared/metrics.js';
import { type NodeConfig, nodeUpdate } from './config.js';
import { KeyValueStore } from './store.js';

/** Naive recursive Fibonacci: deliberately exponential, it is the simulated CPU work. */
export function fib(n: number): number {
  return n < 2 ? n : fib(n - 1) + fib(n - 2);
}

/**
 * V8 runs naive fib about five times faster than CPython, so the node computes it five
 * times: `LOAD_FACTOR` then costs what it cost in the original Python workshop
 * (fib(25) ≈ 10 ms, fib(30) ≈ 100 ms), and the workshop's numbers still mean what they say.
 */
const CPYTHON_COST_FACTOR = 5;

export function simulateCpuLoad(loadFactor: number): void {
  for (let i = 0; i < CPYTHON_COST_FACTOR; i++) fib(loadFactor);
}

const dataBody = z.object({ key: z.string().min(1).max(1024), value: z.string().max(65_536) });

export interface NodeAppOptions {
  config: NodeConfig;
  metrics: ServiceMetrics;
  log: Logger;
  /** Random source for `failRate`; tests inject a fixed one. */
  random?: () => number;
  /** The shutdown phase: `/health` answers 503 `{"status":"draining",...}` while draining. */
  drain?: Drain;
}

export function createNodeApp({ config, metrics, log, random = Math.random, drain }: NodeAppOptions): Hono {
  const load = { loadFactor: config.loadFactor, latencyMs: config.latencyMs, failRate: config.failRate };
  const store = new KeyValueStore(config.maxKeys);
  let active = 0;
  let requestsTotal = 0;

  new Gauge({
    name: 'lab_node_active_requests',
    help: 'Requests this node is handling right now.',
    registers: [metrics.registry],
    collect() {
      this.set(active);
    },
  });
  new Gauge({
    name: 'lab_node_load_factor',
    help: 'Simulated CPU load: fib(n) per data request (0 = none).',
    registers: [metrics.registry],
    collect() {
      this.set(load.loadFactor);
    },
  });

  const live: LiveConfig<typeof nodeUpdate> = {
    get: () => ({ id: config.id, ...load }),
    update: nodeUpdate,
    apply(patch) {
      Object.assign(load, patch);
    },
    settings: () => ({
      'load factor': String(load.loadFactor),
      latency: `${load.latencyMs} ms`,
      'fail rate': String(load.failRate),
    }),
  };

  const app = createServiceApp({
    metrics,
    log,
    adminToken: config.adminToken,
    live,
    drain,
    middleware: [
      async function activeRequests(c, next) {
        active++;
        requestsTotal++;
        c.header('X-Node-ID', config.id);
        c.header('X-Active-Requests', String(active));
        try {
          await next();
        } finally {
          active--;
        }
      },
    ],
  });

  /** The simulated overload; answers 500 for `failRate` of requests. */
  async function simulateWork(): Promise<boolean> {
    if (load.latencyMs > 0) await new Promise((resolve) => setTimeout(resolve, load.latencyMs));
    if (load.loadFactor > 0) simulateCpuLoad(load.loadFactor);
    return load.failRate > 0 && random() < load.failRate;
  }
  const simulatedFailure = { error: 'simulated failure', node_id: config.id };

  app.get('/', (c) => c.json({ message: 'Node is running', id: config.id }));
  app.get('/health', (c) =>
    drain?.draining
      ? c.json({ ...DRAINING_BODY, node_id: config.id, active_requests: active }, 503)
      : c.json({ status: 'ok', node_id: config.id, active_requests: active }),
  );
  app.get('/stats', (c) =>
    c.json({
      node_id: config.id,
      active_requests: active,
      load_factor: load.loadFactor,
      latency_ms: load.latencyMs,
      fail_rate: load.failRate,
      requests_total: requestsTotal,
      keys: store.size,
    }),
  );

  app.post(
    '/data',
    bodyLimit({
      maxSize: config.bodyLimit,
      onError: (c) => {
        // Read the rest away: the client reads its 413 and keeps the connection.
        discardUnreadBody(c);
        return c.json({ detail: `body larger than ${config.bodyLimit} bytes` }, 413);
      },
    }),
    async (c) => {
      let body: unknown;
      try {
        body = await c.req.json();
      } catch {
        return c.json({ detail: [{ message: 'body must be JSON: {"key": string, "value": string}' }] }, 422);
      }
      const parsed = dataBody.safeParse(body);
      if (!parsed.success) return c.json({ detail: parsed.error.issues }, 422);
      if (await simulateWork()) return c.json(simulatedFailure, 500);
      const { key, value } = parsed.data;
      store.set(key, value);
      return c.json({ status: 'stored', node_id: config.id, key, value });
    },
  );

  app.get('/data/:key', async (c) => {
    const key = c.req.param('key');
    const value = store.get(key);
    // A miss is answered before the simulated work, as in the original: misses are cheap.
    if (value === undefined) return c.json({ detail: `Key '${key}' not found on Node ${config.id}` }, 404);
    if (await simulateWork()) return c.json(simulatedFailure, 500);
    return c.json({ node_id: config.id, key, value });
  });

  return app;
}
