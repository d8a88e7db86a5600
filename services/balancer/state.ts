/**
 * @module
 * `GET /admin/state`: the balancer's upstreams with health, in-flight, latency and
 * counts, as one answer for the service however many worker threads serve it.
 *
 * Each worker has its own upstream set: its own in-flight counts, counters, latency
 * estimate, active health checks and passive ejections. Combined per upstream (by name):
 * - `in_flight` and `requests` are summed (the service's totals);
 * - `healthy` only if every worker has it healthy, as `lab_balancer_upstream_up` takes
 *   the minimum: some workers still send it traffic, but not all, and a learner should
 *   see the first worker that gave up on it; `healthy_workers` says how many do, and
 *   `down_reason` is the first down worker's;
 * - `ewma_ms` is the workers' estimates weighted by the tries each sent it;
 *   `consecutive_failures` the largest, `last_check` the latest, `last_error` the first
 *   worker's that has one.
 */
import type { StrategyName } from './strategies/index.js';
import type { Outcome, UpstreamSet } from './upstreams.js';

export interface UpstreamState {
  name: string;
  url: string;
  weight: number;
  healthy: boolean;
  /** With several workers: how many have it healthy. */
  healthy_workers?: number;
  down_reason: string | null;
  in_flight: number;
  ewma_ms: number;
  requests: Record<Outcome, number>;
  consecutive_failures: number;
  last_error: string | null;
  last_check: string | null;
}

export interface BalancerState {
  strategy: StrategyName;
  /** With several workers: how many answered for this state. */
  workers?: number;
  healthy: number;
  upstreams: UpstreamState[];
}

/** This thread's state. */
export function balancerState(upstreams: UpstreamSet, strategy: StrategyName): BalancerState {
  return {
    strategy,
    healthy: upstreams.healthy.length,
    upstreams: upstreams.all.map((u) => ({
      name: u.id,
      url: u.url,
      weight: u.weight,
      healthy: u.healthy,
      down_reason: u.downReason ?? null,
      in_flight: u.inFlight,
      ewma_ms: round2(u.ewmaMs),
      requests: { ...u.counts },
      consecutive_failures: u.consecutiveFailures,
      last_error: u.lastError ?? null,
      last_check: u.lastCheckAt === undefined ? null : new Date(u.lastCheckAt).toISOString(),
    })),
  };
}

/** Every worker's state (in worker order) as the service's. */
export function combineStates(states: readonly BalancerState[]): BalancerState {
  const byName = new Map<string, UpstreamState[]>();
  for (const state of states) {
    for (const upstream of state.upstreams) {
      const seen = byName.get(upstream.name);
      if (seen) seen.push(upstream);
      else byName.set(upstream.name, [upstream]);
    }
  }
  const upstreams = [...byName.values()].map(combineUpstream);
  return {
    strategy: (states[0] as BalancerState).strategy,
    workers: states.length,
    healthy: upstreams.filter((u) => u.healthy).length,
    upstreams,
  };
}

function combineUpstream(views: UpstreamState[]): UpstreamState {
  const first = views[0] as UpstreamState;
  const tries = (u: UpstreamState) =>
    u.requests.ok + u.requests.error + u.requests.timeout + u.requests.retried;
  const totalTries = views.reduce((n, u) => n + tries(u), 0);
  const healthyWorkers = views.filter((u) => u.healthy).length;
  const requests = { ok: 0, error: 0, timeout: 0, retried: 0 };
  for (const u of views)
    for (const outcome of Object.keys(requests) as Outcome[]) requests[outcome] += u.requests[outcome];
  const checks = views.map((u) => u.last_check).filter((t): t is string => t !== null);
  return {
    name: first.name,
    url: first.url,
    weight: first.weight,
    healthy: healthyWorkers === views.length,
    healthy_workers: healthyWorkers,
    down_reason: views.find((u) => !u.healthy)?.down_reason ?? null,
    in_flight: views.reduce((n, u) => n + u.in_flight, 0),
    ewma_ms:
      totalTries === 0
        ? first.ewma_ms
        : round2(views.reduce((sum, u) => sum + u.ewma_ms * tries(u), 0) / totalTries),
    requests,
    consecutive_failures: Math.max(...views.map((u) => u.consecutive_failures)),
    last_error: views.find((u) => u.last_error !== null)?.last_error ?? null,
    // ISO-8601 times in UTC sort as text.
    last_check: checks.length === 0 ? null : (checks.sort().at(-1) as string),
  };
}

const round2 = (ms: number) => Math.round(ms * 100) / 100;
