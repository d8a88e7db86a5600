/**
 * @module
 * The limiter's data plane: a plain `node:http` handler (see `shared/server.ts`) that
 * identifies the client, asks the store, and either answers 429 itself or hands the
 * request to the shared proxy with the rate-limit fields added.
 *
 * The reject path is a single `writeHead(429, flatHeaders)` + `end(body)`: no Hono
 * context, no Headers object, no Promise when the store is synchronous (memory). A
 * remote store's promise is awaited only when `consume` returns one.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../shared/logger.js';
import { methodLabel, type ServiceMetrics } from '../shared/metrics.js';
import { type Problem, sendProblem } from '../shared/problem.js';
import { allowedHeaders, rejection } from './headers.js';
import type { Identity } from './identity.js';
import type { LimiterMetrics } from './metrics.js';
import type { Policy, PolicySet } from './policies.js';
import { StoreUnavailableError } from './stores/circuit.js';
import { type Decision, isPromiseLike, type Store } from './types.js';

/** Sends an admitted request on, with `headers` added to the upstream's response. */
export type Pass = (
  req: IncomingMessage,
  res: ServerResponse,
  headers: readonly string[] | undefined,
) => void;

export interface RateLimitOptions {
  /** The live policies (swapped whole by a reload). */
  policies: () => PolicySet;
  store: () => Store;
  identify: (req: IncomingMessage) => Identity;
  metrics: ServiceMetrics;
  limiterMetrics: LimiterMetrics;
  pass: Pass;
  log: Logger;
  /** Send `X-RateLimit-*` too. */
  legacyHeaders?: boolean;
  /** On a store failure: admit (`open`) or answer 503 (`closed`). */
  failMode?: 'open' | 'closed';
}

const STORE_DOWN: Problem = {
  status: 503,
  title: 'Service Unavailable',
  detail: 'the rate-limit store is unavailable and RATE_LIMIT_FAIL_MODE=closed',
};
const RETRY_IN_A_SECOND = ['Retry-After', '1'];

/** Store keys: a named client's requests share one quota; default-policy clients have one each. */
const storeKey = (policy: Policy, identity: Identity) => (policy.shared ? `c:${policy.name}` : identity.key);

/**
 * @example
 * startService({ ..., dataPlane: rateLimit({ policies: () => live, store: () => store, identify, ... }) });
 */
export function rateLimit({
  policies,
  store,
  identify,
  metrics,
  limiterMetrics,
  pass,
  log,
  legacyHeaders = false,
  failMode = 'open',
}: RateLimitOptions) {
  let lastStoreWarning = 0;

  function storeFailed(
    req: IncomingMessage,
    res: ServerResponse,
    start: number,
    kind: string,
    error: unknown,
  ) {
    limiterMetrics.storeError(kind);
    const now = Date.now();
    // A circuit-wrapped store (redis) logs its own state changes, once each.
    if (!(error instanceof StoreUnavailableError) && now - lastStoreWarning > 1000) {
      lastStoreWarning = now;
      log.warn('store_error', { store: kind, fail_mode: failMode, error });
    }
    if (failMode === 'open') {
      pass(req, res, undefined);
      return;
    }
    sendProblem(res, STORE_DOWN, RETRY_IN_A_SECOND);
    metrics.recordRequest('/*', methodLabel(req.method), 503, (performance.now() - start) / 1000);
  }

  function decided(
    req: IncomingMessage,
    res: ServerResponse,
    start: number,
    policy: Policy,
    decision: Decision,
  ) {
    const tallies = limiterMetrics.tallies(policy);
    if (decision.allowed) {
      tallies.allowed.n++;
      pass(req, res, allowedHeaders(policy, decision, legacyHeaders));
      return;
    }
    tallies.rejected.n++;
    if (res.destroyed) return;
    const { headers, body } = rejection(policy, decision, legacyHeaders);
    res.writeHead(429, headers);
    res.end(body);
    metrics.recordRequest('/*', methodLabel(req.method), 429, (performance.now() - start) / 1000);
  }

  return function rateLimit(req: IncomingMessage, res: ServerResponse): void {
    const start = performance.now();
    const identity = identify(req);
    const set = policies();
    const apiKey = identity.apiKey;
    const policy =
      apiKey !== undefined && apiKey.length <= set.maxKeyLength
        ? (set.byKey.get(apiKey) ?? set.default)
        : set.default;
    const algorithm = policy.algorithm;
    if (algorithm === undefined) {
      limiterMetrics.tallies(policy).allowed.n++;
      pass(req, res, undefined);
      return;
    }
    const current = store();
    let result: ReturnType<Store['consume']>;
    try {
      result = current.consume(storeKey(policy, identity), algorithm, 1);
    } catch (error) {
      storeFailed(req, res, start, current.kind, error);
      return;
    }
    if (isPromiseLike(result)) {
      result.then(
        (decision) => decided(req, res, start, policy, decision),
        (error: unknown) => storeFailed(req, res, start, current.kind, error),
      );
      return;
    }
    decided(req, res, start, policy, result);
  };
}
