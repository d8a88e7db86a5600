/**
 * @module
 * The console's HTTP surface: the page and its scripts (uPlot from node_modules, no CDN),
 * one Server-Sent Events stream of snapshots, and the controls, which it carries out with
 * the services' admin APIs (the token stays in this process).
 *
 * The controls change the lab without a token, so they accept only what a page of this
 * console sends: a JSON body (a cross-site form cannot send one without a CORS preflight,
 * which is never granted) and, when the browser names an `Origin`, this console's own.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Hono, MiddlewareHandler } from 'hono';
import { streamSSE } from 'hono/streaming';
import { Gauge } from 'prom-client';
import { z } from 'zod';
import { STRATEGY_NAMES } from '../balancer/strategies/index.js';
import { ALGORITHM_NAMES } from '../limiter/algorithms/index.js';
import { createServiceApp } from '../shared/app.js';
import type { Logger } from '../shared/logger.js';
import type { ServiceMetrics } from '../shared/metrics.js';
import type { ConsoleConfig } from './config.js';
import {
  algorithmControl,
  nodeControl,
  parseControl,
  problem,
  strategyControl,
  trafficControl,
} from './controls.js';
import { type LabApi, UpstreamError } from './lab-api.js';
import type { LabLink } from './lab-link.js';
import type { SnapshotHub } from './live.js';
import { type ConsoleTraffic, MAX_RATE } from './traffic.js';

/** A comment line on the event stream this often, so proxies and browsers keep it open. */
export const HEARTBEAT_MS = 10_000;

const requireHere = createRequire(import.meta.url);
/** The page's own files: the same path from services/console/ and dist/console/. */
const PUBLIC = new URL('../../services/console/public/', import.meta.url);

interface Asset {
  type: string;
  body: string;
}

function assets(): Map<string, Asset> {
  const file = (path: string | URL, type: string): Asset => ({ type, body: readFileSync(path, 'utf8') });
  return new Map([
    ['/', file(new URL('index.html', PUBLIC), 'text/html; charset=utf-8')],
    ['/console.js', file(new URL('console.js', PUBLIC), 'text/javascript; charset=utf-8')],
    ['/console.css', file(new URL('console.css', PUBLIC), 'text/css; charset=utf-8')],
    [
      '/vendor/uPlot.iife.min.js',
      file(requireHere.resolve('uplot/dist/uPlot.iife.min.js'), 'text/javascript; charset=utf-8'),
    ],
    [
      '/vendor/uPlot.min.css',
      file(requireHere.resolve('uplot/dist/uPlot.min.css'), 'text/css; charset=utf-8'),
    ],
    ['/vendor/uPlot.LICENSE', file(requireHere.resolve('uplot/LICENSE'), 'text/plain; charset=utf-8')],
  ]);
}

const LOOPBACK_NAMES = new Set(['localhost', '127.0.0.1', '[::1]']);

/** The host part of a `Host` header or an origin, lowercased; undefined when it is not one. */
function hostnameOf(hostOrOrigin: string): string | undefined {
  try {
    return new URL(hostOrOrigin.includes('://') ? hostOrOrigin : `http://${hostOrOrigin}`).hostname;
  } catch {
    return undefined;
  }
}

/**
 * Controls only from this console's own pages (see the module comment): JSON, an `Origin`
 * (when sent) of this host, and a `Host` that is a loopback name or the address the console
 * listens on, so a foreign site that re-points its own DNS name at 127.0.0.1 (DNS rebinding)
 * is refused too.
 */
function ownPagesOnly(listenHost: string): MiddlewareHandler {
  const hosts = new Set(LOOPBACK_NAMES);
  if (listenHost !== '0.0.0.0' && listenHost !== '::') hosts.add(hostnameOf(listenHost) ?? listenHost);
  return async function ownPagesOnly(c, next) {
    const host = c.req.header('host') ?? '';
    const hostname = hostnameOf(host);
    if (hostname === undefined || !hosts.has(hostname)) {
      return problem(c, 403, `controls are only accepted at ${[...hosts].join(', ')} (Host ${host})`);
    }
    const origin = c.req.header('origin');
    if (origin !== undefined && hostnameOf(origin) !== hostname) {
      return problem(c, 403, `controls are only accepted from this console's page (Origin ${origin})`);
    }
    if (!/^application\/json\b/i.test(c.req.header('content-type') ?? '')) {
      return problem(c, 415, 'send the control as Content-Type: application/json');
    }
    await next();
  };
}

export interface ConsoleAppOptions {
  config: ConsoleConfig;
  metrics: ServiceMetrics;
  log: Logger;
  api: LabApi;
  hub: SnapshotHub;
  traffic: ConsoleTraffic;
  lab: LabLink;
  /** Resolves when the service stops: open event streams end then. */
  closing: Promise<unknown>;
}

export function createConsoleApp({
  config,
  metrics,
  log,
  api,
  hub,
  traffic,
  lab,
  closing,
}: ConsoleAppOptions): Hono {
  const app = createServiceApp({
    metrics,
    log,
    adminToken: config.adminToken,
    // Nothing of the console changes live: GET /admin/config shows where it points.
    live: {
      get: () => ({
        limiterUrl: config.limiterUrl,
        balancerUrl: config.balancerUrl,
        nodeUrls: config.nodeUrls,
        pollInterval: config.pollInterval,
      }),
      update: z.object({}).strict(),
      apply: () => {},
    },
  });

  new Gauge({
    name: 'lab_console_event_streams',
    help: 'Pages listening to the live snapshot stream right now.',
    registers: [metrics.registry],
    collect() {
      this.set(hub.listeners);
    },
  });

  for (const [path, asset] of assets()) {
    app.get(path, (c) =>
      c.body(asset.body, 200, { 'content-type': asset.type, 'cache-control': 'no-cache' }),
    );
  }

  app.get('/events', (c) =>
    streamSSE(c, async (stream) => {
      let id = 0;
      const unsubscribe = hub.subscribe((snapshot) => {
        void stream.writeSSE({ event: 'snapshot', id: String(++id), data: JSON.stringify(snapshot) });
      });
      const heartbeat = setInterval(() => void stream.write(': heartbeat\n\n'), HEARTBEAT_MS);
      await Promise.race([new Promise((resolve) => stream.onAbort(() => resolve(undefined))), closing]);
      clearInterval(heartbeat);
      unsubscribe();
    }),
  );

  app.get('/api/snapshot', async (c) => c.json(await hub.refresh()));
  app.get('/api/options', (c) =>
    c.json({
      strategies: STRATEGY_NAMES,
      algorithms: ALGORITHM_NAMES,
      actors: traffic.names,
      maxRate: MAX_RATE,
    }),
  );

  /** Runs a control; a service's refusal is a 502 naming it. Answers the fresh snapshot. */
  const carryOut = async (c: Parameters<MiddlewareHandler>[0], action: () => Promise<unknown>) => {
    try {
      await action();
    } catch (error) {
      if (error instanceof UpstreamError) {
        return problem(c, error.status === 404 ? 404 : 502, error.message);
      }
      throw error;
    }
    return c.json(await hub.refresh());
  };

  app.post('/api/*', ownPagesOnly(config.host));

  app.post('/api/strategy', async (c) => {
    const parsed = await parseControl(c, strategyControl);
    if (parsed.refused) return parsed.refused;
    return carryOut(c, () => api.setBalancer(parsed.value));
  });

  app.post('/api/algorithm', async (c) => {
    const parsed = await parseControl(c, algorithmControl);
    if (parsed.refused) return parsed.refused;
    return carryOut(c, () => api.setAlgorithm(parsed.value.algorithm));
  });

  const knownNode = (c: Parameters<MiddlewareHandler>[0]) => {
    const name = c.req.param('name') as string;
    const known = config.nodeUrls.map((n) => n.name);
    return known.includes(name)
      ? { name }
      : { refused: problem(c, 404, `no node named ${name} (known: ${known.join(', ')})`) };
  };

  app.post('/api/nodes/:name', async (c) => {
    const node = knownNode(c);
    if (node.refused) return node.refused;
    const parsed = await parseControl(c, nodeControl);
    if (parsed.refused) return parsed.refused;
    return carryOut(c, () => api.setNode(node.name, parsed.value));
  });

  for (const action of ['kill', 'revive'] as const) {
    app.post(`/api/nodes/:name/${action}`, async (c) => {
      const node = knownNode(c);
      if (node.refused) return node.refused;
      if (!lab.canKill) return problem(c, 409, lab.reason ?? 'kill and revive are not available here');
      try {
        await lab.request(action, node.name);
      } catch (error) {
        return problem(c, 409, `${action} ${node.name}: ${(error as Error).message}`);
      }
      log.info(action === 'kill' ? 'node_killed' : 'node_revived', { node: node.name });
      return c.json(await hub.refresh());
    });
  }

  app.post('/api/traffic/:actor', async (c) => {
    const actor = c.req.param('actor');
    if (!traffic.names.includes(actor)) {
      return problem(c, 404, `no actor named ${actor} (known: ${traffic.names.join(', ')})`);
    }
    const parsed = await parseControl(c, trafficControl);
    if (parsed.refused) return parsed.refused;
    const { running, rate } = parsed.value;
    if (running) {
      const current = traffic.status().actors.find((a) => a.name === actor);
      await traffic.start(actor, rate ?? (current?.rate as number));
    } else {
      await traffic.stop(actor);
    }
    return c.json(await hub.refresh());
  });

  return app;
}
