/**
 * @module
 * The limiter service: the control plane (Hono: `/healthz`, `/metrics`, `/admin/*` with
 * `PUT /admin/config {"policies": ...}` reloading live) and the data plane (`rateLimit`,
 * a `node:http` handler in front of the shared proxy).
 *
 * An admitted request the upstream never received (connection refused while the balancer
 * restarts, or a reused keep-alive socket it closed as the request went out) is tried
 * again after a short backoff (`retry.ts`, `UPSTREAM_RETRIES`/`UPSTREAM_RETRY_BACKOFF`),
 * then answered by the limiter itself with a problem+json 503 (502 for a broken
 * connection, 504 for a timeout) that names the cause. A draining upstream
 * (`X-Draining`) is only logged: there is no other one to pick.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Hono } from 'hono';
import type { Dispatcher } from 'undici';
import { z } from 'zod';
import { InvalidUpdateError, type LiveConfig } from '../shared/admin.js';
import { createServiceApp } from '../shared/app.js';
import type { Drain } from '../shared/drain.js';
import { type ForwardOptions, forward, PROXY_ROUTE } from '../shared/forward.js';
import type { Logger } from '../shared/logger.js';
import type { ServiceMetrics } from '../shared/metrics.js';
import { methodLabel } from '../shared/metrics.js';
import { clientStatus, type ForwardErrorKind, type ForwardOutcome, isRetryable } from '../shared/outcome.js';
import { createUpstreamPool } from '../shared/pool.js';
import { sendProblem } from '../shared/problem.js';
import type { DataPlane } from '../shared/server.js';
import type { WorkerGroup } from '../shared/worker-link.js';
import type { LimiterConfig } from './config.js';
import { createIdentify } from './identity.js';
import { createLimiterMetrics, type UpstreamErrorLabel } from './metrics.js';
import {
  compilePolicies,
  PolicyError,
  type PolicySet,
  policySettings,
  unsupportedPolicies,
} from './policies.js';
import { type Pass, rateLimit } from './rate-limit.js';
import { backoffDelay, type RetrySchedule } from './retry.js';
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

/** What the limiter answers when its upstream failed, by the failure's kind. */
const UPSTREAM_FAILURE: Record<UpstreamErrorLabel, { status: number; title: string; what: string }> = {
  connect: { status: 503, title: 'Service Unavailable', what: 'could not be reached (connection failed)' },
  socket: { status: 502, title: 'Bad Gateway', what: 'closed the connection before answering' },
  timeout: { status: 504, title: 'Gateway Timeout', what: 'did not answer within UPSTREAM_TIMEOUT' },
  other: { status: 502, title: 'Bad Gateway', what: 'failed' },
};

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

  const timeoutMs = config.upstreamTimeout;
  const schedule: RetrySchedule = { retries: config.upstreamRetries, baseMs: config.upstreamRetryBackoff };
  let upstreamDraining = false;

  /**
   * One admitted request across its tries. It is also the options object of each
   * `forward` call (`onDone` is a method), so a try allocates no closure.
   */
  class Relay implements ForwardOptions {
    readonly start = performance.now();
    readonly timeoutMs = timeoutMs;
    readonly bodyLimit = config.bodyLimit;
    tries = 1;

    constructor(
      readonly req: IncomingMessage,
      readonly res: ServerResponse,
      readonly responseHeaders: readonly string[] | undefined,
    ) {}

    onDone(outcome: ForwardOutcome): boolean {
      if (outcome.status > 0 && !outcome.refused && outcome.draining !== upstreamDraining) {
        upstreamDraining = outcome.draining;
        log.info(upstreamDraining ? 'upstream_draining' : 'upstream_serving', { upstream: config.upstream });
      }
      const error = outcome.error;
      if (error === undefined || error === 'aborted' || outcome.sent) {
        if (error !== undefined && error !== 'aborted')
          log.warn('upstream_error', { error, cause: outcome.cause, path: this.req.url });
        this.record(clientStatus(outcome));
        return false;
      }
      if (this.tries <= schedule.retries && isRetryable(this.req, outcome)) {
        limiterMetrics.upstreamRetry(error);
        log.debug('upstream_retry', { error, tries: this.tries, path: this.req.url });
        this.retryAfter(backoffDelay(this.tries, schedule, random));
        return true;
      }
      limiterMetrics.upstreamFailure(error);
      log.warn('upstream_error', { error, tries: this.tries, cause: outcome.cause, path: this.req.url });
      this.record(this.fail(error, outcome.cause));
      return true;
    }

    /** Waits, then tries again; gives up quietly if the client leaves meanwhile. */
    retryAfter(delayMs: number): void {
      const res = this.res;
      const onClose = () => {
        clearTimeout(timer);
        this.record(499);
      };
      const timer = setTimeout(() => {
        res.off('close', onClose);
        this.tries++;
        forward(this.req, res, pool, this);
      }, delayMs);
      res.once('close', onClose);
    }

    /** The limiter's own problem+json answer for a failed upstream; returns its status. */
    fail(error: Exclude<ForwardErrorKind, 'aborted'>, cause: Error | undefined): number {
      const { status, title, what } = UPSTREAM_FAILURE[error];
      const res = this.res;
      if (res.headersSent || res.destroyed) return status;
      const ms = Math.round(performance.now() - this.start);
      const headers = status === 503 ? ['retry-after', '1'] : [];
      if (this.responseHeaders) headers.push(...this.responseHeaders);
      sendProblem(
        res,
        {
          status,
          title,
          detail: `the upstream ${config.upstream} ${what}${cause ? `: ${cause.message}` : ''}; ${this.tries} ${this.tries === 1 ? 'try' : 'tries'} in ${ms} ms`,
          cause: error,
          tries: this.tries,
        },
        headers,
      );
      return status;
    }

    record(status: number): void {
      metrics.recordRequest(
        PROXY_ROUTE,
        methodLabel(this.req.method),
        status,
        (performance.now() - this.start) / 1000,
      );
    }
  }

  const pass: Pass = (req, res, headers) => forward(req, res, pool, new Relay(req, res, headers));

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
