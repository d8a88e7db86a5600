/**
 * @module
 * Smooth weighted round robin, as nginx does it: every pick adds each upstream's weight
 * to its running score, takes the highest score and subtracts the total weight from it.
 *
 * When: upstreams of unequal capacity (a bigger machine gets weight 3). Weights 3:1:1
 * give exactly 3:1:1 in every window of 5 picks, interleaved (a, b, a, c, a), never
 * bursts of three to the same upstream. Cost: O(N) per pick, one number per upstream.
 * Blind spot: weights are static, so like round robin it cannot see a slow upstream.
 */
import type { Backend, Strategy } from './types.js';

export function weightedRoundRobin(): Strategy {
  // Running scores by upstream id; an upstream that left and came back starts over.
  const current = new Map<string, number>();
  let lastList: readonly Backend[] | undefined;
  return {
    pick(backends) {
      if (backends.length === 0) return undefined;
      if (backends !== lastList) {
        // The set changed (ejection, re-admission, DNS): drop scores of ones that left.
        const ids = new Set(backends.map((b) => b.id));
        for (const id of current.keys()) if (!ids.has(id)) current.delete(id);
        lastList = backends;
      }
      let total = 0;
      let best: Backend | undefined;
      let bestScore = Number.NEGATIVE_INFINITY;
      for (const backend of backends) {
        const score = (current.get(backend.id) ?? 0) + backend.weight;
        current.set(backend.id, score);
        total += backend.weight;
        if (score > bestScore) {
          best = backend;
          bestScore = score;
        }
      }
      current.set((best as Backend).id, bestScore - total);
      return best;
    },
  };
}
