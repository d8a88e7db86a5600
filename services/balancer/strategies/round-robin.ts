/**
 * @module
 * Round robin: each request goes to the next upstream in turn.
 *
 * When: identical upstreams and uniform, cheap requests; the default of nginx and a fine
 * baseline. Cost: one counter, O(1) per pick. Blind spot: it ignores load, so a slow or
 * overloaded upstream still gets exactly 1/N of the requests and its queue grows (watch
 * `lab_balancer_upstream_in_flight` and p99 per upstream).
 */
import type { Strategy } from './types.js';

/**
 * Needs neither deps nor settings.
 * @example
 * const rr = roundRobin();
 * rr.pick(backends, ctx); // backends[0], then [1], [2], [0], ...
 */
export function roundRobin(): Strategy {
  let next = 0;
  return {
    pick(backends) {
      if (backends.length === 0) return undefined;
      if (next >= backends.length) next %= backends.length;
      return backends[next++];
    },
  };
}
