/**
 * @module
 * The balancer: a Hono control plane (`/healthz`, `/metrics`, `/admin/config`,
 * `/admin/state`) and a `node:http` data plane that picks an upstream with the active
 * strategy and forwards through the shared `forward()` hot path.
 *
 * Per request: pick among the healthy upstreams (503 JSON when there is none), forward
 * with a per-try timeout capped by what is left of the total timeout, and on a failed
 * try that sent nothing to the client, retry once on a different upstream when that is
 * safe (`isRetryable`: the connection was never made, or it broke under an idempotent
 * bodyless request). An upstream whose response carries `X-Draining` is marked down at
 * once (see `shared/drain.ts`). Strategy switches are live: a
 * request keeps the strategy instance that picked it for its end hook.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Hono } from 'hono';
import type { LiveConfig } from '../shared/admin.js';
import { InvalidUpdateError } from '../shared/admin.js';
import { createServiceApp } from '../shared/app.js';
import type { Drain } from '../shared/drain.js';
import { type ForwardOptions, forward, PROXY_ROUTE, sendJson, sendTooLarge } from '../shared/forward.js';
import type { Logger } from '../shared/logger.js';
import { methodLabel, type ServiceMetrics } from '../shared/metrics.js';
import { clientStatus, type ForwardOutcome, isRetryable } from '../shared/outcome.js';
import type { DataPlane } from '../shared/server.js';
import { gathered, type WorkerGroup } from '../shared/worker-link.js';
import { type BalancerConfig, balancerUpdate } from './config.js';
import { balancerMetrics } from './metrics.js';
import { balancerState, combineStates } from './state.js';
import { createStrategy, type StrategyName } from './strategies/index.js';
import type { PickContext, Strategy } from './strategies/types.js';
import { type Upstream, UpstreamSet, type UpstreamSpec } from './upstreams.js';

export interface BalancerOptions {
  config: BalancerConfig;
  metrics: ServiceMetrics;
  log: Logger;
  /** The initial upstreams (from UPSTREAMS, or the first DNS answer). */
  upstreams: readonly UpstreamSpec[];
  random?: () => number;
  now?: () => number;
  /** The shutdown phase: `/healthz` answers 503 while draining. */
  drain?: Drain;
  /** The other worker threads (`WORKERS` > 1): the control plane answers for all of them. */
  workers?: WorkerGroup;
}

export interface Balancer {
  app: Hono;
  dataPlane: DataPlane;
  upstreams: UpstreamSet;
  /** The strategy in use now. */
  strategy(): StrategyName;
}

const DATA_PATH = /^\/data\/([^/?]+)/;

export function createBalancer({
  config,
  metrics,
  log,
  upstreams: specs,
  random = Math.random,
  now = () => performance.now(),
  drain,
  workers,
}: BalancerOptions): Balancer {
  let strategyName: StrategyName = config.strategy;
  const settings = { hashLoadFactor: config.hashLoadFactor };
  let strategy: Strategy = createStrategy(strategyName, { random, now }, settings);
  let set: UpstreamSet | undefined;
  balancerMetrics(
    metrics,
    () => set as UpstreamSet,
    () => strategyName,
  );
  set = new UpstreamSet(specs, {
    log,
    ejectAfter: config.ejectAfter,
    healthFall: config.healthFall,
    healthRise: config.healthRise,
    poolConnections: config.poolConnections,
  });
  const upstreams = set;

  // ---- data plane -------------------------------------------------------------------

  /** One reusable pick context: `pick` is synchronous, so one object serves every request. */
  const pickContext: PickContext & { req: IncomingMessage | undefined; bodyKey: string | undefined } = {
    req: undefined,
    bodyKey: undefined,
    hashKey(): string {
      const req = this.req as IncomingMessage;
      const path = DATA_PATH.exec(req.url ?? '');
      if (path) return safeDecode(path[1] as string);
      if (this.bodyKey !== undefined) return this.bodyKey;
      const header = req.headers[config.hashHeader];
      if (typeof header === 'string' && header !== '') return header;
      const forwarded = req.headers['x-forwarded-for'];
      if (typeof forwarded === 'string' && forwarded !== '') {
        const comma = forwarded.indexOf(',');
        return (comma === -1 ? forwarded : forwarded.slice(0, comma)).trim();
      }
      return req.socket.remoteAddress ?? '';
    },
  };

  /**
   * One client request across its tries. It is also the options object of each
   * `forward` call (`onDone` is a method), so a try allocates no closure.
   */
  class Exchange implements ForwardOptions {
    readonly start = performance.now();
    tries = 0;
    body: Buffer | undefined = undefined;
    bodyKey: string | undefined = undefined;
    timeoutMs = 0;
    responseHeaders: readonly string[] | undefined = undefined;
    readonly trustForwarded = true;
    readonly bodyLimit = config.bodyLimit;
    upstream: Upstream | undefined = undefined;
    /** The strategy that picked `upstream`: it gets the end hook even after a live switch. */
    picker: Strategy | undefined = undefined;

    constructor(
      readonly req: IncomingMessage,
      readonly res: ServerResponse,
    ) {}

    onDone(outcome: ForwardOutcome): boolean {
      const upstream = this.upstream as Upstream;
      upstream.inFlight--;
      if (outcome.refused) {
        // Answered by this proxy (a refused target or body): the upstream never saw it.
        finishMetrics(this, outcome.status);
        return false;
      }
      if (this.picker?.onRequestEnd) {
        const latencyMs = outcome.headersMs >= 0 ? outcome.headersMs : outcome.durationMs;
        this.picker.onRequestEnd(upstream, {
          latencyMs,
          ok: outcome.error === undefined && outcome.status < 500,
        });
      }
      // An upstream announcing its drain leaves the rotation now, not at its next check.
      if (outcome.draining) upstreams.markDown(upstream, 'draining: announced by X-Draining');
      const retry =
        outcome.error !== undefined &&
        this.tries < 2 &&
        isRetryable(this.req, outcome, this.body !== undefined) &&
        config.totalTimeout - (performance.now() - this.start) > 1;
      upstreams.recordTry(upstream, outcome, retry);
      if (retry) {
        log.debug('retry', { upstream: upstream.id, error: outcome.error, path: this.req.url });
        attempt(this, upstream);
        return true;
      }
      finishMetrics(this, clientStatus(outcome));
      return false;
    }
  }

  function finishMetrics(ex: Exchange, status: number) {
    metrics.recordRequest(
      PROXY_ROUTE,
      methodLabel(ex.req.method),
      status,
      (performance.now() - ex.start) / 1000,
    );
  }

  function attempt(ex: Exchange, exclude: Upstream | undefined): void {
    let candidates = upstreams.healthy;
    if (exclude) candidates = candidates.filter((u) => u !== exclude);
    if (candidates.length === 0) {
      const status = 503;
      sendJson(ex.res, status, {
        error: exclude ? 'no other healthy upstream to retry on' : 'no healthy upstream',
        upstreams: upstreams.all.map((u) => ({
          name: u.id,
          healthy: u.healthy,
          reason: u.downReason ?? null,
        })),
      });
      finishMetrics(ex, status);
      return;
    }
    pickContext.req = ex.req;
    pickContext.bodyKey = ex.bodyKey;
    const picker = strategy;
    const upstream = (picker.pick(candidates, pickContext) ?? candidates[0]) as Upstream;
    pickContext.req = undefined;
    ex.tries++;
    upstream.inFlight++;
    picker.onRequestStart?.(upstream);
    ex.upstream = upstream;
    ex.picker = picker;
    ex.responseHeaders = upstream.responseHeaders;
    ex.timeoutMs = Math.max(
      1,
      Math.min(config.tryTimeout, config.totalTimeout - (performance.now() - ex.start)),
    );
    forward(ex.req, ex.res, upstream.pool, ex);
  }

  function dataPlane(req: IncomingMessage, res: ServerResponse): void {
    const ex = new Exchange(req, res);
    if (req.url?.charCodeAt(0) !== 47 /* / */) {
      sendJson(res, 400, { error: 'request target must be a path (origin-form)' });
      finishMetrics(ex, 400);
      return;
    }
    if (strategyName === 'consistent-hash' && req.method === 'POST' && isDataPath(req.url ?? '')) {
      readKeyThenAttempt(ex);
      return;
    }
    attempt(ex, undefined);
  }

  /**
   * `POST /data` under consistent hashing: the key is in the body, so read it first
   * (at most BODY_LIMIT of it).
   */
  function readKeyThenAttempt(ex: Exchange): void {
    const chunks: Buffer[] = [];
    let size = 0;
    let refused = false;
    ex.req.on('data', (chunk: Buffer) => {
      // Past the limit the rest is read and dropped, as Node does with a body nobody
      // reads: destroying the request reset the connection before the client could read
      // the 413 (and, behind the limiter, turned it into a 502). REQUEST_TIMEOUT_MS bounds
      // a body that never ends.
      if (refused) return;
      size += chunk.length;
      if (size > config.bodyLimit) {
        refused = true;
        chunks.length = 0;
        sendTooLarge(ex.req, ex.res, config.bodyLimit);
        finishMetrics(ex, 413);
        return;
      }
      chunks.push(chunk);
    });
    ex.req.on('error', () => {});
    ex.req.on('end', () => {
      if (refused) return;
      ex.body = Buffer.concat(chunks);
      try {
        const key = (JSON.parse(ex.body.toString('utf8')) as { key?: unknown }).key;
        if (typeof key === 'string') ex.bodyKey = key;
      } catch {
        // Not JSON: hash on the header or client address; the node answers 422 itself.
      }
      attempt(ex, undefined);
    });
  }

  // ---- control plane ----------------------------------------------------------------

  const live: LiveConfig<typeof balancerUpdate> = {
    get: () => ({
      strategy: strategyName,
      weights: Object.fromEntries(upstreams.all.map((u) => [u.id, u.weight])),
      upstreams: upstreams.all.map((u) => u.id),
      tryTimeoutMs: config.tryTimeout,
      totalTimeoutMs: config.totalTimeout,
      hashHeader: config.hashHeader,
      hashLoadFactor: config.hashLoadFactor,
    }),
    update: balancerUpdate,
    apply(patch) {
      if (patch.weights) {
        try {
          upstreams.setWeights(patch.weights);
        } catch (error) {
          throw new InvalidUpdateError((error as Error).message);
        }
      }
      if (patch.strategy && patch.strategy !== strategyName) {
        strategy = createStrategy(patch.strategy, { random, now }, settings);
        strategyName = patch.strategy;
      }
    },
    settings: () => ({
      strategy: strategyName,
      ...Object.fromEntries(upstreams.all.map((u) => [`weight ${u.id}`, String(u.weight)])),
    }),
  };

  const app = createServiceApp({
    metrics,
    log,
    adminToken: config.adminToken,
    live,
    drain,
    workers,
    adminRoutes: (admin) => {
      const state = gathered(
        workers,
        'balancer-state',
        () => balancerState(upstreams, strategyName),
        combineStates,
      );
      admin.get('/state', async (c) => c.json(await state()));
    },
  });

  return { app, dataPlane, upstreams, strategy: () => strategyName };
}

function isDataPath(url: string): boolean {
  return url === '/data' || url.startsWith('/data?');
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
