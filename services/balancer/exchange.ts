/**
 * @module
 * The balancer's data plane: a `node:http` handler that picks an upstream with the active
 * strategy and forwards through the shared `forward()` hot path.
 *
 * Per request: pick among the healthy upstreams (503 when there is none), forward with a
 * per-try timeout capped by what is left of the total timeout, and on a failed try that
 * sent nothing to the client, retry once on a different upstream when that is safe
 * (`isRetryable`: the connection was never made, or it broke under an idempotent bodyless
 * request). An upstream whose response carries `X-Draining` is marked down at once (see
 * `shared/drain.ts`). A strategy that declares `needsBodyKey` gets the `key` of a
 * `POST /data` body, read before the pick. Strategy switches are live: a request keeps the
 * strategy instance that picked it for its end hook.
 *
 * Per-request cost: one `Exchange` (also the options of each `forward` call, so a try
 * allocates no closure); the pick context is one object per balancer, since `pick` is
 * synchronous.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { type ForwardOptions, forward, PROXY_ROUTE, sendTooLarge } from '../shared/forward.js';
import type { Logger } from '../shared/logger.js';
import { methodLabel, type ServiceMetrics } from '../shared/metrics.js';
import { clientStatus, type ForwardOutcome, isRetryable } from '../shared/outcome.js';
import { type Problem, sendProblem } from '../shared/problem.js';
import type { BalancerConfig } from './config.js';
import type { PickContext, Strategy } from './strategies/types.js';
import type { Upstream, UpstreamSet } from './upstreams.js';

const DATA_PATH = /^\/data\/([^/?]+)/;
const NOT_ORIGIN_FORM: Problem = {
  status: 400,
  title: 'Bad Request',
  detail: 'request target must be a path (origin-form)',
};

/** The request's affinity key (see {@link PickContext.hashKey}); one per balancer. */
class RequestKey implements PickContext {
  req: IncomingMessage | undefined = undefined;
  bodyKey: string | undefined = undefined;

  constructor(readonly hashHeader: string) {}

  hashKey(): string {
    const req = this.req as IncomingMessage;
    const path = DATA_PATH.exec(req.url ?? '');
    if (path) return safeDecode(path[1] as string);
    if (this.bodyKey !== undefined) return this.bodyKey;
    const header = req.headers[this.hashHeader];
    if (typeof header === 'string' && header !== '') return header;
    const forwarded = req.headers['x-forwarded-for'];
    if (typeof forwarded === 'string' && forwarded !== '') {
      const comma = forwarded.indexOf(',');
      return (comma === -1 ? forwarded : forwarded.slice(0, comma)).trim();
    }
    return req.socket.remoteAddress ?? '';
  }
}

/**
 * The balancer's data plane; `handle` is its `node:http` handler. The control plane
 * swaps `strategy` on a live switch.
 */
export class BalancerDataPlane {
  readonly #key: RequestKey;

  constructor(
    readonly config: BalancerConfig,
    readonly upstreams: UpstreamSet,
    readonly metrics: ServiceMetrics,
    readonly log: Logger,
    public strategy: Strategy,
  ) {
    this.#key = new RequestKey(config.hashHeader);
  }

  readonly handle = (req: IncomingMessage, res: ServerResponse): void => {
    const ex = new Exchange(this, req, res);
    if (req.url?.charCodeAt(0) !== 47 /* / */) {
      sendProblem(res, NOT_ORIGIN_FORM);
      ex.record(400);
      return;
    }
    if (this.strategy.needsBodyKey && req.method === 'POST' && isDataPath(req.url ?? '')) {
      ex.readKeyThenAttempt();
      return;
    }
    ex.attempt(undefined);
  };

  /** Picks an upstream for `ex` among `candidates` (never empty) with the current strategy. */
  pick(ex: Exchange, candidates: readonly Upstream[]): Upstream {
    const key = this.#key;
    key.req = ex.req;
    key.bodyKey = ex.bodyKey;
    const picker = this.strategy;
    const upstream = (picker.pick(candidates, key) ?? candidates[0]) as Upstream;
    key.req = undefined;
    ex.picker = picker;
    return upstream;
  }
}

/**
 * One client request across its tries. It is also the options object of each `forward`
 * call (`onDone` is a method), so a try allocates no closure.
 */
class Exchange implements ForwardOptions {
  readonly start = performance.now();
  tries = 0;
  body: Buffer | undefined = undefined;
  bodyKey: string | undefined = undefined;
  timeoutMs = 0;
  responseHeaders: readonly string[] | undefined = undefined;
  readonly trustForwarded = true;
  readonly bodyLimit: number;
  upstream: Upstream | undefined = undefined;
  /** The strategy that picked `upstream`: it gets the end hook even after a live switch. */
  picker: Strategy | undefined = undefined;

  constructor(
    readonly plane: BalancerDataPlane,
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
  ) {
    this.bodyLimit = plane.config.bodyLimit;
  }

  onDone(outcome: ForwardOutcome): boolean {
    const { config, upstreams, log } = this.plane;
    const upstream = this.upstream as Upstream;
    upstream.inFlight--;
    if (outcome.refused) {
      // Answered by this proxy (a refused target or body): the upstream never saw it.
      this.record(outcome.status);
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
      this.attempt(upstream);
      return true;
    }
    this.record(clientStatus(outcome));
    return false;
  }

  /** One try on a healthy upstream other than `exclude`; 503 when there is none. */
  attempt(exclude: Upstream | undefined): void {
    const { config, upstreams } = this.plane;
    let candidates = upstreams.healthy;
    if (exclude) candidates = candidates.filter((u) => u !== exclude);
    if (candidates.length === 0) {
      const status = 503;
      sendProblem(this.res, {
        status,
        title: 'Service Unavailable',
        detail: exclude ? 'no other healthy upstream to retry on' : 'no healthy upstream',
        upstreams: upstreams.all.map((u) => ({
          name: u.id,
          healthy: u.healthy,
          reason: u.downReason ?? null,
        })),
      });
      this.record(status);
      return;
    }
    const upstream = this.plane.pick(this, candidates);
    this.tries++;
    upstream.inFlight++;
    this.picker?.onRequestStart?.(upstream);
    this.upstream = upstream;
    this.responseHeaders = upstream.responseHeaders;
    this.timeoutMs = Math.max(
      1,
      Math.min(config.tryTimeout, config.totalTimeout - (performance.now() - this.start)),
    );
    forward(this.req, this.res, upstream.pool, this);
  }

  /** `POST /data` for a strategy that needs its body's key: read it first (at most BODY_LIMIT). */
  readKeyThenAttempt(): void {
    const limit = this.bodyLimit;
    const chunks: Buffer[] = [];
    let size = 0;
    let refused = false;
    this.req.on('data', (chunk: Buffer) => {
      // Past the limit the rest is read and dropped, as Node does with a body nobody
      // reads: destroying the request reset the connection before the client could read
      // the 413 (and, behind the limiter, turned it into a 502). REQUEST_TIMEOUT_MS bounds
      // a body that never ends.
      if (refused) return;
      size += chunk.length;
      if (size > limit) {
        refused = true;
        chunks.length = 0;
        sendTooLarge(this.req, this.res, limit);
        this.record(413);
        return;
      }
      chunks.push(chunk);
    });
    this.req.on('error', () => {});
    this.req.on('end', () => {
      if (refused) return;
      this.body = Buffer.concat(chunks);
      try {
        const key = (JSON.parse(this.body.toString('utf8')) as { key?: unknown }).key;
        if (typeof key === 'string') this.bodyKey = key;
      } catch {
        // Not JSON: hash on the header or client address; the node answers 422 itself.
      }
      this.attempt(undefined);
    });
  }

  record(status: number): void {
    this.plane.metrics.recordRequest(
      PROXY_ROUTE,
      methodLabel(this.req.method),
      status,
      (performance.now() - this.start) / 1000,
    );
  }
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
