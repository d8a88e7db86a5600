/**
 * @module
 * What the page shows, built from what the services say about themselves: the balancer's
 * `/admin/state` (strategy, each upstream's health, in-flight and tries), the limiter's
 * `/admin/config` (the policies), each node's `/stats` (its simulated load) and the
 * console's own traffic (each actor's answers, the good user's latency).
 *
 * {@link buildSnapshot} is pure: the rates are the counters' growth since the previous
 * snapshot's totals, so a test gives it two reads and checks the arithmetic.
 */
import type { BalancerState } from '../balancer/state.js';
import type { ActorStatus, TrafficStatus } from './traffic.js';

/** A node's `GET /stats`. */
export interface NodeStats {
  node_id: string;
  active_requests: number;
  load_factor: number;
  latency_ms: number;
  fail_rate: number;
  requests_total: number;
}

interface PolicyDocument {
  algorithm?: string;
  limit?: number;
  window?: number;
  burst?: number;
  exempt?: boolean;
}

/** The limiter's `GET /admin/config` (the part the console shows). */
export interface LimiterConfig {
  policies: { default: PolicyDocument; clients?: Record<string, PolicyDocument> };
}

/** A read that failed says why instead. */
export type Read<T> = { ok: true; value: T } | { ok: false; error: string };

/** One round of reads, taken at `at` (ms on the console's monotonic clock). */
export interface Reads {
  at: number;
  balancer: Read<BalancerState>;
  limiter: Read<LimiterConfig>;
  nodes: { name: string; url: string; stats: Read<NodeStats> }[];
  traffic: TrafficStatus;
  /** Whether this console can kill and revive nodes, and if not, why. */
  lab: { canKill: boolean; reason?: string };
}

export interface NodeRow {
  name: string;
  url: string;
  /** The node is one of NODE_URLS: its load can be changed (and it can be killed, where the lab allows). */
  controllable: boolean;
  /** Answers its `/stats`. */
  reachable: boolean;
  /** In the balancer's rotation (undefined: the balancer does not know this node, or did not answer). */
  healthy?: boolean;
  inFlight?: number;
  /** Tries the balancer sent it since it started (ok, error and timeout). */
  requests?: number;
  /** Tries per second since the previous snapshot. */
  perSecond: number;
  loadFactor?: number;
  latencyMs?: number;
  failRate?: number;
}

export interface PolicyRow {
  /** `default`, or the client's name. */
  name: string;
  algorithm?: string;
  limit?: number;
  windowMs?: number;
  burst?: number;
  exempt: boolean;
}

/** An actor's traffic status and its rates. */
export interface ActorRow extends ActorStatus {
  /** Per second since the previous snapshot. */
  okPerSecond: number;
  limitedPerSecond: number;
  errorsPerSecond: number;
}

export interface Snapshot {
  /** Seconds on the console's clock: the charts' x axis. */
  t: number;
  strategy?: string;
  /** The default policy's algorithm: what "the" algorithm is for a learner. */
  algorithm?: string;
  policies: PolicyRow[];
  nodes: NodeRow[];
  actors: ActorRow[];
  /** The good user's latency over the last few seconds, ms. */
  goodLatency: { p50: number; p95: number; samples: number };
  lab: { canKill: boolean; reason?: string };
  /** What could not be read this round, one line each (`balancer: ECONNREFUSED`). */
  problems: string[];
}

/** The counters a snapshot's rates are computed from; pass them to the next build. */
export interface Totals {
  at: number;
  nodes: Map<string, number>;
  actors: Map<string, { ok: number; limited: number; errors: number }>;
}

const tries = (requests: { ok: number; error: number; timeout: number }) =>
  requests.ok + requests.error + requests.timeout;

/** Growth per second; a counter that went back (a restarted service) counts from zero. */
function perSecond(now: number, before: number | undefined, seconds: number): number {
  if (before === undefined || seconds <= 0) return 0;
  const grown = now >= before ? now - before : now;
  return Math.round((grown / seconds) * 100) / 100;
}

function policyRows(config: LimiterConfig): PolicyRow[] {
  const row = (name: string, p: PolicyDocument): PolicyRow => ({
    name,
    exempt: p.exempt === true,
    ...(p.algorithm === undefined ? {} : { algorithm: p.algorithm }),
    ...(p.limit === undefined ? {} : { limit: p.limit }),
    ...(p.window === undefined ? {} : { windowMs: p.window }),
    ...(p.burst === undefined ? {} : { burst: p.burst }),
  });
  return [
    row('default', config.policies.default),
    ...Object.entries(config.policies.clients ?? {}).map(([name, p]) => row(name, p)),
  ];
}

/**
 * One snapshot from one round of reads.
 * @param previous the totals the previous snapshot returned (none for the first: rates 0)
 * @returns the snapshot and the totals to pass next time
 */
export function buildSnapshot(reads: Reads, previous?: Totals): { snapshot: Snapshot; totals: Totals } {
  const seconds = previous ? (reads.at - previous.at) / 1000 : 0;
  const problems: string[] = [];
  const totals: Totals = { at: reads.at, nodes: new Map(), actors: new Map() };

  const upstreams = reads.balancer.ok ? reads.balancer.value.upstreams : [];
  if (!reads.balancer.ok) problems.push(`balancer: ${reads.balancer.error}`);
  const byOrigin = new Map(upstreams.map((u) => [new URL(u.url).origin, u]));

  const nodes: NodeRow[] = reads.nodes.map(({ name, url, stats }) => {
    const upstream = byOrigin.get(url);
    byOrigin.delete(url);
    if (!stats.ok) problems.push(`${name}: ${stats.error}`);
    const row: NodeRow = { name, url, controllable: true, reachable: stats.ok, perSecond: 0 };
    if (stats.ok) {
      row.loadFactor = stats.value.load_factor;
      row.latencyMs = stats.value.latency_ms;
      row.failRate = stats.value.fail_rate;
    }
    if (upstream) {
      row.healthy = upstream.healthy;
      row.inFlight = upstream.in_flight;
      row.requests = tries(upstream.requests);
    }
    return row;
  });
  // Upstreams the balancer has that NODE_URLS does not name (DNS discovery, a scaled lab).
  for (const upstream of byOrigin.values()) {
    nodes.push({
      name: upstream.name,
      url: upstream.url,
      controllable: false,
      reachable: upstream.healthy,
      healthy: upstream.healthy,
      inFlight: upstream.in_flight,
      requests: tries(upstream.requests),
      perSecond: 0,
    });
  }
  for (const node of nodes) {
    if (node.requests === undefined) continue;
    node.perSecond = perSecond(node.requests, previous?.nodes.get(node.name), seconds);
    totals.nodes.set(node.name, node.requests);
  }

  const actors: ActorRow[] = reads.traffic.actors.map((a) => {
    const before = previous?.actors.get(a.name);
    totals.actors.set(a.name, { ok: a.ok, limited: a.limited, errors: a.errors });
    return {
      ...a,
      okPerSecond: perSecond(a.ok, before?.ok, seconds),
      limitedPerSecond: perSecond(a.limited, before?.limited, seconds),
      errorsPerSecond: perSecond(a.errors, before?.errors, seconds),
    };
  });

  const policies = reads.limiter.ok ? policyRows(reads.limiter.value) : [];
  if (!reads.limiter.ok) problems.push(`limiter: ${reads.limiter.error}`);

  const snapshot: Snapshot = {
    t: Math.round(reads.at) / 1000,
    policies,
    nodes,
    actors,
    goodLatency: reads.traffic.goodLatency,
    lab: reads.lab,
    problems,
  };
  if (reads.balancer.ok) snapshot.strategy = reads.balancer.value.strategy;
  const defaultPolicy = policies[0];
  if (defaultPolicy?.algorithm) snapshot.algorithm = defaultPolicy.algorithm;
  return { snapshot, totals };
}
