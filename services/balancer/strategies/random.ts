/**
 * @module
 * Random: each request goes to an upstream drawn at random, in proportion to weight.
 *
 * When: many balancers in front of the same upstreams with no shared state; it needs no
 * coordination and no per-request bookkeeping, and over many requests it spreads like
 * round robin (Envoy notes it even beats round robin when health checks are off).
 * Cost: one random number, O(1) with equal weights, O(N) weighted. Blind spot: load and
 * latency are ignored, and short-term streaks to one upstream happen (binomial noise).
 */
import { randomIndex, type Strategy, type StrategyDeps } from './types.js';

export function random({ random: rand = Math.random }: Partial<StrategyDeps> = {}): Strategy {
  return {
    pick(backends) {
      if (backends.length === 0) return undefined;
      let total = 0;
      let equal = true;
      for (const backend of backends) {
        total += backend.weight;
        if (backend.weight !== (backends[0] as { weight: number }).weight) equal = false;
      }
      if (equal) return backends[randomIndex(rand, backends.length)];
      let point = rand() * total;
      for (const backend of backends) {
        point -= backend.weight;
        if (point < 0) return backend;
      }
      return backends[backends.length - 1];
    },
  };
}
