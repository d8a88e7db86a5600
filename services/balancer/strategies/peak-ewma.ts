/**
 * @module
 * Peak EWMA (Finagle, Linkerd, tower): each upstream carries a latency estimate that
 * jumps straight up to any slower observation (the "peak") and decays back towards new,
 * faster ones with time constant `decayMs`. The cost of an upstream is
 * `estimate × (in-flight + 1)`; two upstreams are drawn at random and the cheaper one wins.
 *
 * When: upstreams whose latency differs or changes (a noisy neighbour, GC, one overloaded
 * node): the slow one is avoided within a few requests, before its queue builds up, which
 * least connections only notices once requests pile up. Failures count as a
 * `failurePenaltyMs` observation so a node failing fast does not look fast. Cost: P2C plus
 * an `exp()` per pick and per response. Blind spot: one slow request can push an upstream
 * aside for ~`decayMs`; with few requests the estimate is stale (it decays while idle, so
 * an avoided upstream is tried again).
 */
import {
  type Backend,
  randomIndex,
  type Strategy,
  type StrategyDeps,
  type StrategySettings,
} from './types.js';

interface Estimate {
  /** Latency estimate in ms at `stamp`. */
  value: number;
  stamp: number;
}

/**
 * @param [deps.random=Math.random]
 * @param [deps.now=performance.now]
 * @param [settings.decayMs=10000] - time constant of the decay towards faster observations
 * @param [settings.defaultRttMs=5] - the estimate of an upstream not measured yet
 * @param [settings.failurePenaltyMs=1000] - the latency a failure counts as (at least)
 * @example
 * peakEwma({ random: seeded(3), now: () => t }, { decayMs: 1_000 });
 */
export function peakEwma(
  { random = Math.random, now = () => performance.now() }: Partial<StrategyDeps> = {},
  {
    decayMs = 10_000,
    defaultRttMs = 5,
    failurePenaltyMs = 1_000,
  }: Partial<StrategySettings> & { decayMs?: number; defaultRttMs?: number; failurePenaltyMs?: number } = {},
): Strategy {
  const estimates = new Map<string, Estimate>();

  /** The estimate decayed to `t`: an idle upstream drifts back towards 0, so it is retried. */
  const current = (backend: Backend, t: number) => {
    const e = estimates.get(backend.id);
    if (!e) return defaultRttMs;
    return e.value * Math.exp(-Math.max(0, t - e.stamp) / decayMs);
  };
  const cost = (backend: Backend, t: number) =>
    (current(backend, t) * (backend.inFlight + 1)) / backend.weight;

  return {
    pick(backends) {
      const n = backends.length;
      if (n <= 1) return backends[0];
      const i = randomIndex(random, n);
      let j = randomIndex(random, n - 1);
      if (j >= i) j++;
      const a = backends[i] as Backend;
      const b = backends[j] as Backend;
      const t = now();
      return cost(b, t) < cost(a, t) ? b : a;
    },
    onRequestEnd(backend, { latencyMs, ok }) {
      const rtt = ok ? latencyMs : Math.max(latencyMs, failurePenaltyMs);
      const t = now();
      const e = estimates.get(backend.id);
      if (!e) {
        estimates.set(backend.id, { value: rtt, stamp: t });
        return;
      }
      const w = Math.exp(-Math.max(0, t - e.stamp) / decayMs);
      const decayed = e.value * w;
      // Peak: a slower observation replaces the estimate at once; faster ones blend in.
      e.value = rtt > decayed ? rtt : decayed + rtt * (1 - w);
      e.stamp = t;
    },
  };
}
