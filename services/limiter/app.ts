/**
 * @module
 * The limiter service: the control plane (Hono: `/healthz`, `/metrics`, `/admin/*` with
 * `PUT /admin/config {"policies": ...}` reloading live) and the data plane (`rateLimit`,
 * a `node:http` handler that passes admitted requests upstream through `relay.ts`).
 */
import type { Hono } from 'hono';
import type { Dispatcher } from 'undici';
import { z } from 'zod';
import { InvalidUpdateError, type LiveConfig } from '../shared/admin.js';
import { createServiceApp } from '../shared/app.js';
import type { Drain } from '../shared/drain.js';
import type { Logger } from '../shared/logger.js';
import type { ServiceMetrics } from '../shared/metrics.js';
import { createUpstreamPool } from '../shared/pool.js';
import type { DataPlane } from '../shared/server.js';
import type { WorkerGroup } from '../shared/worker-link.js';
import type { LimiterConfig } from './config.js';
import { createIdentify } from './identity.js';
import { createLimiterMetrics } from './metrics.js';
import {
  compilePolicies,
  PolicyError,
  type PolicySet,
  policySettings,
  unsupportedPolicies,
} from './policies.js';
import { rateLimit } from './rate-limit.js';
import { createRelay } from './relay.js';
import type { Store } from './types.js';

/** `PUT /admin/config` body: a whole policies document (checked by `compilePolicies`). */
export const limiterUpdate = z.object({ policies: z.unknown() }).partial().strict();

export interface LimiterOptions {
  config: LimiterConfig;
  policies: PolicySet;
  store: Store;
  metrics: ServiceMetrics;
  log: Logger;
  /** Where admitted requests go; defaults to a keep-alive pool to `config.upstream`. */
  upstream?: Dispatcher;
  /** The shutdown phase: `/healthz` answers 503 while draining. */
  drain?: Drain;
  /** Jitter of the retry backoff; tests pass a fixed one. */
  random?: () => number;
  /** The other worker threads (`WORKERS` > 1): the control plane answers for all of them. */
  workers?: WorkerGroup;
}

export interface Limiter {
  app: Hono;
  dataPlane: DataPlane;
  /** The live policies. */
  policies(): PolicySet;
  /** Closes the upstream pool and the store. */
  close(): Promise<void>;
}

export function createLimiter({
  config,
  policies: initial,
  store,
  metrics,
  log,
  upstream,
  drain,
  random = Math.random,
  workers,
}: LimiterOptions): Limiter {
  let policies = initial;
  const pool = upstream ?? createUpstreamPool(config.upstream);
  const limiterMetrics = createLimiterMetrics(metrics.registry, () => store);
  limiterMetrics.policiesChanged(policies);

  const live: LiveConfig<typeof limiterUpdate> = {
    get: () => ({
      policies: policies.document,
      store: store.kind,
      failMode: config.rateLimitFailMode,
      legacyHeaders: config.rateLimitLegacyHeaders,
      maxKeys: config.rateLimitMaxKeys,
      trustedProxies: config.trustedProxies.list,
    }),
    update: limiterUpdate,
    apply(patch) {
      if (!('policies' in patch)) return;
      let next: PolicySet;
      try {
        next = compilePolicies(patch.policies, 'PUT /admin/config');
      } catch (error) {
        if (error instanceof PolicyError) throw new InvalidUpdateError('invalid policies', error.problems);
        throw error;
      }
      const unsupported = unsupportedPolicies(next, store);
      if (unsupported.length > 0)
        throw new InvalidUpdateError('policies this store cannot keep', unsupported);
      policies = next;
      limiterMetrics.policiesChanged(policies);
      log.info('policies_reloaded', {
        default: policies.default.summary,
        clients: Object.fromEntries([...policies.byKey.values()].map((p) => [p.name, p.summary])),
      });
    },
    settings: () => policySettings(policies),
  };

  const app = createServiceApp({ metrics, log, adminToken: config.adminToken, live, drain, workers });

  const pass = createRelay({ config, pool, metrics, limiterMetrics, log, random });

  const dataPlane = rateLimit({
    policies: () => policies,
    store: () => store,
    identify: createIdentify({ trustedProxies: config.trustedProxies.blocks }),
    metrics,
    limiterMetrics,
    pass,
    log,
    legacyHeaders: config.rateLimitLegacyHeaders,
    failMode: config.rateLimitFailMode,
  });

  return {
    app,
    dataPlane,
    policies: () => policies,
    async close() {
      await pool.close();
      await store.close();
    },
  };
}
