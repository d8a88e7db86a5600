/**
 * @module
 * The balancer: a Hono control plane (`/healthz`, `/metrics`, `/admin/config`,
 * `/admin/state`) around its data plane (`exchange.ts`: pick an upstream with the active
 * strategy, forward, retry). A strategy switch through `/admin/config` replaces the data
 * plane's strategy; requests already picked keep theirs for the end hook.
 */
import type { Hono } from 'hono';
import type { LiveConfig } from '../shared/admin.js';
import { InvalidUpdateError } from '../shared/admin.js';
import { createServiceApp } from '../shared/app.js';
import type { Drain } from '../shared/drain.js';
import type { Logger } from '../shared/logger.js';
import type { ServiceMetrics } from '../shared/metrics.js';
import type { DataPlane } from '../shared/server.js';
import { gathered, type WorkerGroup } from '../shared/worker-link.js';
import { type BalancerConfig, balancerUpdate } from './config.js';
import { BalancerDataPlane } from './exchange.js';
import { balancerMetrics } from './metrics.js';
import { balancerState, combineStates } from './state.js';
import { createStrategy, type StrategyName } from './strategies/index.js';
import { UpstreamSet, type UpstreamSpec } from './upstreams.js';

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
  const plane = new BalancerDataPlane(
    config,
    upstreams,
    metrics,
    log,
    createStrategy(strategyName, { random, now }, settings),
  );

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
        plane.strategy = createStrategy(patch.strategy, { random, now }, settings);
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

  return { app, dataPlane: plane.handle, upstreams, strategy: () => strategyName };
}
