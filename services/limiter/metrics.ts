/**
 * @module
 * The limiter's `lab_ratelimit_*` metrics (DESIGN.md):
 * - `lab_ratelimit_decisions_total{client, policy, algorithm, decision}`: `client` is the
 *   policy's client name or `anonymous`, never a raw key, so the series stay bounded by
 *   the policies file;
 * - `lab_ratelimit_tracked_keys`: keys the store holds (read at scrape time);
 * - `lab_ratelimit_store_errors_total{store}`;
 * - `lab_ratelimit_algorithm_info{policy, algorithm}`: 1 per active policy;
 * - `lab_ratelimit_upstream_retries_total{error}` and
 *   `lab_ratelimit_upstream_failures_total{error}`: upstream tries retried, and requests
 *   the limiter answered itself (502/503/504) after its last try, by the failure's kind
 *   (`connect`, `socket`, `timeout`, `other`: a fixed set).
 *
 * Decisions are tallied in plain numbers on the hot path (one increment, no label
 * hashing) and handed to prom-client when Prometheus scrapes.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { ForwardErrorKind } from '../shared/outcome.js';
import type { Policy, PolicySet } from './policies.js';
import type { Store } from './types.js';

/** One `lab_ratelimit_decisions_total` series, counted in place. */
export interface Tally {
  n: number;
  reported: number;
  readonly labels: { client: string; policy: string; algorithm: string; decision: 'allowed' | 'rejected' };
}

export interface PolicyTallies {
  allowed: Tally;
  rejected: Tally;
}

export interface LimiterMetrics {
  /** The tallies of a policy (cached per compiled policy; series survive reloads). */
  tallies(policy: Policy): PolicyTallies;
  storeError(store: string): void;
  /** Sets `lab_ratelimit_algorithm_info` to the active policies. */
  policiesChanged(policies: PolicySet): void;
  /** A failed upstream try that will be retried. */
  upstreamRetry(error: UpstreamErrorLabel): void;
  /** A request the limiter answered itself because the upstream failed. */
  upstreamFailure(error: UpstreamErrorLabel): void;
}

/** The `error` label of the upstream counters. */
export type UpstreamErrorLabel = Exclude<ForwardErrorKind, 'aborted'>;
const UPSTREAM_ERRORS: readonly UpstreamErrorLabel[] = ['connect', 'socket', 'timeout', 'other'];

/** The `algorithm` label: the algorithm's name, or `exempt`. */
export const algorithmLabel = (policy: Policy) => policy.algorithm?.name ?? 'exempt';

export function createLimiterMetrics(registry: Registry, store: () => Store): LimiterMetrics {
  const series = new Map<string, Tally>();
  const byPolicy = new WeakMap<Policy, PolicyTallies>();

  const decisions = new Counter({
    name: 'lab_ratelimit_decisions_total',
    help: 'Rate-limit decisions, by client (policy client name or anonymous), policy, algorithm and decision.',
    labelNames: ['client', 'policy', 'algorithm', 'decision'] as const,
    registers: [registry],
    collect() {
      for (const tally of series.values()) {
        if (tally.n > tally.reported) {
          this.inc(tally.labels, tally.n - tally.reported);
          tally.reported = tally.n;
        }
      }
    },
  });
  void decisions;
  new Gauge({
    name: 'lab_ratelimit_tracked_keys',
    help: 'Client keys the rate-limit store tracks right now.',
    registers: [registry],
    // Worker threads share one store (the shared table, or Redis's -1): one value, never a sum.
    aggregator: 'max',
    collect() {
      this.set(store().trackedKeys());
    },
  });
  const storeErrors = new Counter({
    name: 'lab_ratelimit_store_errors_total',
    help: 'Rate-limit store failures (the request was then admitted or refused per RATE_LIMIT_FAIL_MODE).',
    labelNames: ['store'] as const,
    registers: [registry],
  });
  const info = new Gauge({
    name: 'lab_ratelimit_algorithm_info',
    help: 'The algorithm of each active rate-limit policy (1).',
    labelNames: ['policy', 'algorithm'] as const,
    registers: [registry],
    aggregator: 'max',
  });

  const upstreamRetries = new Counter({
    name: 'lab_ratelimit_upstream_retries_total',
    help: 'Upstream tries that failed before reaching the upstream and were retried after a backoff, by error (connect, socket, timeout, other).',
    labelNames: ['error'] as const,
    registers: [registry],
  });
  const upstreamFailures = new Counter({
    name: 'lab_ratelimit_upstream_failures_total',
    help: 'Requests the limiter answered itself (503 upstream unavailable, 502, 504) after its last upstream try, by error.',
    labelNames: ['error'] as const,
    registers: [registry],
  });
  for (const error of UPSTREAM_ERRORS) {
    upstreamRetries.inc({ error }, 0);
    upstreamFailures.inc({ error }, 0);
  }

  const tally = (policy: Policy, decision: 'allowed' | 'rejected'): Tally => {
    const labels = {
      client: policy.client,
      policy: policy.name,
      algorithm: algorithmLabel(policy),
      decision,
    };
    const id = `${labels.client}\u0000${labels.policy}\u0000${labels.algorithm}\u0000${decision}`;
    let found = series.get(id);
    if (!found) {
      found = { n: 0, reported: 0, labels };
      series.set(id, found);
    }
    return found;
  };

  return {
    tallies(policy) {
      let found = byPolicy.get(policy);
      if (!found) {
        found = { allowed: tally(policy, 'allowed'), rejected: tally(policy, 'rejected') };
        byPolicy.set(policy, found);
      }
      return found;
    },
    storeError(kind) {
      storeErrors.inc({ store: kind });
    },
    policiesChanged(policies) {
      info.reset();
      for (const policy of [policies.default, ...policies.byKey.values()]) {
        info.set({ policy: policy.name, algorithm: algorithmLabel(policy) }, 1);
      }
    },
    upstreamRetry(error) {
      upstreamRetries.inc({ error });
    },
    upstreamFailure(error) {
      upstreamFailures.inc({ error });
    },
  };
}
