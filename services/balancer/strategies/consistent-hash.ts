/**
 * @module
 * Consistent hashing on a ring with virtual nodes (Karger et al. 1997; ketama): every
 * upstream owns `vnodes × weight` points on a 32-bit ring, and a request goes to the
 * owner of the first point at or after the hash of its key. The same key always lands
 * on the same upstream while the set is unchanged; adding a 4th upstream to 3 moves
 * about 1/4 of the keys (plain `hash % N` would move 3/4), and removing one moves only
 * the keys it owned.
 *
 * When: affinity matters (per-key caches, the node's in-memory `/data` store, sticky
 * sessions). The key is the `/data/:key` key, the `key` of a `POST /data` body, a
 * configured header, or the client address. Optional bounded load (Mirrokni et al.,
 * "Consistent Hashing with Bounded Loads", 2018): with `loadFactor` c > 1, an upstream
 * already at c × the average in-flight passes the request on clockwise, trading a little
 * affinity for no hot spots. Cost: O(log(N·vnodes)) per pick plus hashing the key; the
 * ring (N·vnodes points) is rebuilt only when the set changes. Blind spot: without
 * bounded load a hot key overloads its upstream, and load is only as even as the vnodes
 * make it (160 per upstream: within ~±10 %).
 */
import type { Backend, Strategy, StrategyDeps, StrategySettings } from './types.js';

/** FNV-1a over UTF-16 code units, then murmur3's finaliser for avalanche. 32-bit unsigned. */
export function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

interface Ring {
  points: Uint32Array;
  owners: Backend[];
}

function buildRing(backends: readonly Backend[], vnodes: number): Ring {
  const entries: { point: number; owner: Backend }[] = [];
  for (const backend of backends) {
    const count = vnodes * backend.weight;
    for (let v = 0; v < count; v++) entries.push({ point: hash32(`${backend.id}#${v}`), owner: backend });
  }
  // Ties (hash collisions) broken by id, so the ring does not depend on list order.
  entries.sort((a, b) => a.point - b.point || (a.owner.id < b.owner.id ? -1 : 1));
  return { points: Uint32Array.from(entries, (e) => e.point), owners: entries.map((e) => e.owner) };
}

/** Index of the first point ≥ `h`, wrapping to 0. */
function firstAtOrAfter(points: Uint32Array, h: number): number {
  let lo = 0;
  let hi = points.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((points[mid] as number) < h) lo = mid + 1;
    else hi = mid;
  }
  return lo === points.length ? 0 : lo;
}

/**
 * Takes no deps (hashing is deterministic).
 * @param [settings.hashLoadFactor=0] - bounded load c (e.g. 1.25); 0 turns it off
 * @param [settings.vnodes=160] - ring points per unit of weight
 * @example
 * consistentHash({}, { hashLoadFactor: 1.25 }).pick(backends, { hashKey: () => 'user-42' });
 */
export function consistentHash(
  _deps: Partial<StrategyDeps> = {},
  { hashLoadFactor: loadFactor = 0, vnodes = 160 }: Partial<StrategySettings> & { vnodes?: number } = {},
): Strategy {
  if (!Number.isInteger(vnodes) || vnodes < 1)
    throw new Error(`consistentHash: vnodes must be an integer ≥ 1, got ${vnodes}`);
  if (loadFactor !== 0 && !(loadFactor > 1))
    throw new Error(`consistentHash: hashLoadFactor must be 0 (off) or > 1, got ${loadFactor}`);
  let ring: Ring | undefined;
  let ringFor: readonly Backend[] | undefined;

  return {
    needsBodyKey: true,
    pick(backends, ctx) {
      if (backends.length === 0) return undefined;
      if (backends !== ringFor || !ring) {
        ring = buildRing(backends, vnodes);
        ringFor = backends;
      }
      const start = firstAtOrAfter(ring.points, hash32(ctx.hashKey()));
      const owner = ring.owners[start] as Backend;
      if (loadFactor === 0) return owner;

      let total = 1; // counting the request being placed
      for (const backend of backends) total += backend.inFlight;
      const capacity = Math.ceil((loadFactor * total) / backends.length);
      const size = ring.owners.length;
      for (let step = 0; step < size; step++) {
        const candidate = ring.owners[(start + step) % size] as Backend;
        if (candidate.inFlight < capacity) return candidate;
      }
      return owner;
    },
  };
}
