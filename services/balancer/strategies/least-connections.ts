/**
 * @module
 * Least connections: each request goes to the upstream with the fewest requests in
 * flight (divided by weight); ties are broken at random, so an idle set of upstreams
 * shares the load instead of the first one taking every request.
 *
 * When: request cost varies, or one upstream slows down: a slow upstream holds its
 * requests longer, its in-flight count rises and it gets fewer new ones. Cost: O(N) scan
 * per pick. Blind spot: with one balancer it sees only its own in-flight counts, and at
 * low concurrency (≤ 1 in flight everywhere) it degrades to random among ties.
 */
import { lowestScore, type Strategy, type StrategyDeps } from './types.js';

export function leastConnections({ random = Math.random }: Partial<StrategyDeps> = {}): Strategy {
  return {
    pick: (backends) => lowestScore(backends, (b) => b.inFlight / b.weight, random),
  };
}
