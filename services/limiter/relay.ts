/**
 * @module
 * The limiter's way upstream: an admitted request is forwarded to `UPSTREAM` through the
 * shared `forward()` hot path (the {@link Pass} that `rate-limit.ts` calls).
 *
 * A request the upstream never received (connection refused while the balancer restarts,
 * or a reused keep-alive socket it closed as the request went out) is tried again after a
 * short backoff (`retry.ts`, `UPSTREAM_RETRIES`/`UPSTREAM_RETRY_BACKOFF`), then answered by
 * the limiter itself with a problem+json 503 (502 for a broken connection, 504 for a
 * timeout) that names the cause. A draining upstream (`X-Draining`) is only logged: there
 * is no other one to pick.
 *
 * Per-request cost: one `Relay`, which is also the options of each `forward` call, so a
 * try allocates no closure.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Dispatcher } from 'undici';
import { type ForwardOptions, forward, PROXY_ROUTE } from '../shared/forward.js';
import type { Logger } from '../shared/logger.js';
import { methodLabel, type ServiceMetrics } from '../shared/metrics.js';
import { clientStatus, type ForwardErrorKind, type ForwardOutcome, isRetryable } from '../shared/outcome.js';
import { sendProblem } from '../shared/problem.js';
import type { LimiterConfig } from './config.js';
import type { LimiterMetrics, UpstreamErrorLabel } from './metrics.js';
import type { Pass } from './rate-limit.js';
import { backoffDelay, type RetrySchedule } from './retry.js';

/** What the limiter answers when its upstream failed, by the failure's kind. */
const UPSTREAM_FAILURE: Record<UpstreamErrorLabel, { status: number; title: string; what: string }> = {
  connect: { status: 503, title: 'Service Unavailable', what: 'could not be reached (connection failed)' },
  socket: { status: 502, title: 'Bad Gateway', what: 'closed the connection before answering' },
  timeout: { status: 504, title: 'Gateway Timeout', what: 'did not answer within UPSTREAM_TIMEOUT' },
  other: { status: 502, title: 'Bad Gateway', what: 'failed' },
};

export interface RelayOptions {
  config: LimiterConfig;
  /** The upstream's keep-alive pool. */
  pool: Dispatcher;
  metrics: ServiceMetrics;
  limiterMetrics: LimiterMetrics;
  log: Logger;
  /** Jitter of the retry backoff; tests pass a fixed one. */
  random: () => number;
}

/** What every `Relay` of one limiter shares. */
class Upstream {
  readonly timeoutMs: number;
  readonly bodyLimit: number;
  readonly schedule: RetrySchedule;
  /** Whether the upstream's last answer announced a drain (logged on each change). */
  draining = false;

  constructor(readonly options: RelayOptions) {
    const { config } = options;
    this.timeoutMs = config.upstreamTimeout;
    this.bodyLimit = config.bodyLimit;
    this.schedule = { retries: config.upstreamRetries, baseMs: config.upstreamRetryBackoff };
  }
}

/**
 * The {@link Pass} that sends admitted requests to `config.upstream`.
 *
 * @example
 * const pass = createRelay({ config, pool, metrics, limiterMetrics, log, random: Math.random });
 */
export function createRelay(options: RelayOptions): Pass {
  const upstream = new Upstream(options);
  return (req, res, headers) => forward(req, res, options.pool, new Relay(upstream, req, res, headers));
}

/**
 * One admitted request across its tries. It is also the options object of each `forward`
 * call (`onDone` is a method), so a try allocates no closure.
 */
class Relay implements ForwardOptions {
  readonly start = performance.now();
  readonly timeoutMs: number;
  readonly bodyLimit: number;
  tries = 1;

  constructor(
    readonly upstream: Upstream,
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    readonly responseHeaders: readonly string[] | undefined,
  ) {
    this.timeoutMs = upstream.timeoutMs;
    this.bodyLimit = upstream.bodyLimit;
  }

  onDone(outcome: ForwardOutcome): boolean {
    const upstream = this.upstream;
    const { log, limiterMetrics, config, random } = upstream.options;
    if (outcome.status > 0 && !outcome.refused && outcome.draining !== upstream.draining) {
      upstream.draining = outcome.draining;
      log.info(upstream.draining ? 'upstream_draining' : 'upstream_serving', { upstream: config.upstream });
    }
    const error = outcome.error;
    if (error === undefined || error === 'aborted' || outcome.sent) {
      if (error !== undefined && error !== 'aborted')
        log.warn('upstream_error', { error, cause: outcome.cause, path: this.req.url });
      this.record(clientStatus(outcome));
      return false;
    }
    if (this.tries <= upstream.schedule.retries && isRetryable(this.req, outcome)) {
      limiterMetrics.upstreamRetry(error);
      log.debug('upstream_retry', { error, tries: this.tries, path: this.req.url });
      this.retryAfter(backoffDelay(this.tries, upstream.schedule, random));
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
      forward(this.req, res, this.upstream.options.pool, this);
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
        detail: `the upstream ${this.upstream.options.config.upstream} ${what}${cause ? `: ${cause.message}` : ''}; ${this.tries} ${this.tries === 1 ? 'try' : 'tries'} in ${ms} ms`,
        cause: error,
        tries: this.tries,
      },
      headers,
    );
    return status;
  }

  record(status: number): void {
    this.upstream.options.metrics.recordRequest(
      PROXY_ROUTE,
      methodLabel(this.req.method),
      status,
      (performance.now() - this.start) / 1000,
    );
  }
}
