/**
 * @module
 * Power of two choices (P2C): draw two different upstreams at random and send the
 * request to the one with fewer requests in flight (HAProxy's and Envoy's default style
 * for least-request; Mitzenmacher, "The Power of Two Choices in Randomized Load
 * Balancing", 2001).
 *
 * When: like least connections, but O(1) per pick and without the herd effect where
 * every balancer rushes to the same least-loaded upstream: the worst upstream is never
 * picked, and the maximum load is exponentially better than random. Cost: two random
 * numbers per pick. Blind spot: it sees in-flight counts, not latency, so an upstream
 * failing fast (quick 5xx) looks attractive; passive ejection covers that.
 */
import { randomIndex, type Strategy, type StrategyDeps } from './types.js';

/**
 * @param [opts.random=Math.random]
 * @example
 * powerOfTwo({ random: seeded(42) }).pick(backends, ctx);
 */
export function powerOfTwo({ random = Math.random }: Partial<StrategyDeps> = {}): Strategy {
  return {
    pick(backends) {
      const n = backends.length;
      if (n <= 1) return backends[0];
      const i = randomIndex(random, n);
      let j = randomIndex(random, n - 1);
      if (j >= i) j++; // a second, different upstream
      const a = backends[i] as (typeof backends)[number];
      const b = backends[j] as (typeof backends)[number];
      return b.inFlight / b.weight < a.inFlight / a.weight ? b : a;
    },
  };
}
