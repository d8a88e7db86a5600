/**
 * The contract every registered strategy keeps, whatever it optimises:
 * nothing from nothing, only picks from the list it is given, spreads equal idle
 * upstreams evenly, and never picks one that left the list.
 */
import { describe, expect, it } from 'vitest';
import { createStrategy, STRATEGY_NAMES } from './index.js';
import { seeded } from './seeded.js';
import type { Backend, PickContext } from './types.js';

const backends = (n: number): Backend[] =>
  Array.from({ length: n }, (_, i) => ({ id: `node-${i + 1}`, weight: 1, inFlight: 0 }));

/** A context whose hash key changes on every pick, like many different clients. */
function varyingKeys(random: () => number): PickContext {
  return { hashKey: () => `key-${Math.floor(random() * 1e9)}` };
}

describe.each(STRATEGY_NAMES)('strategy %s', (name) => {
  const make = (seed = 1) =>
    createStrategy(name, { random: seeded(seed), now: () => 0 }, { hashLoadFactor: 0 });

  it('returns undefined for an empty list', () => {
    expect(make().pick([], varyingKeys(seeded(2)))).toBeUndefined();
  });

  it('always picks the only upstream of a list of one', () => {
    const one = backends(1);
    const strategy = make();
    for (let i = 0; i < 100; i++) expect(strategy.pick(one, varyingKeys(seeded(i)))).toBe(one[0]);
  });

  it('spreads 9,000 picks over 3 equal idle upstreams within 1/3 ± 0.05', () => {
    const list = backends(3);
    const strategy = make();
    const ctx = varyingKeys(seeded(3));
    const counts = new Map<string, number>();
    for (let i = 0; i < 9_000; i++) {
      const picked = strategy.pick(list, ctx) as Backend;
      if (!list.includes(picked)) throw new Error(`picked ${picked?.id}, not in the list`);
      counts.set(picked.id, (counts.get(picked.id) ?? 0) + 1);
    }
    for (const b of list) {
      const share = (counts.get(b.id) ?? 0) / 9_000;
      expect(share, `${b.id} got ${share.toFixed(3)}`).toBeGreaterThan(1 / 3 - 0.05);
      expect(share).toBeLessThan(1 / 3 + 0.05);
    }
  });

  it('never picks an upstream removed from the list', () => {
    const list = backends(4);
    const strategy = make();
    const ctx = varyingKeys(seeded(4));
    for (let i = 0; i < 100; i++) strategy.pick(list, ctx);
    const without = list.filter((b) => b.id !== 'node-2');
    const picked = new Set(Array.from({ length: 2_000 }, () => (strategy.pick(without, ctx) as Backend).id));
    expect(picked.has('node-2')).toBe(false);
  });
});
