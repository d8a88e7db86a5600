import { describe, expect, it } from 'vitest';
import { seeded } from '../../services/balancer/strategies/seeded.js';
import { killTimes, pickVictim } from './schedule.js';

/** A random source that returns the given values in turn. */
const sequence = (...values: number[]) => {
  let i = 0;
  return () => values[i++ % values.length] as number;
};

describe('killTimes', () => {
  it('kills every interval from one interval in, strictly before the end', () => {
    expect(killTimes({ durationMs: 30_000, everyMs: 5_000 })).toEqual([
      5_000, 10_000, 15_000, 20_000, 25_000,
    ]);
    expect(killTimes({ durationMs: 31_000, everyMs: 5_000 })).toHaveLength(6);
    expect(killTimes({ durationMs: 15_000, everyMs: 5_000 })).toEqual([5_000, 10_000]);
  });

  it('has no kill when the interval is as long as the run, and refuses a zero interval', () => {
    expect(killTimes({ durationMs: 5_000, everyMs: 5_000 })).toEqual([]);
    expect(() => killTimes({ durationMs: 5_000, everyMs: 0 })).toThrow(/everyMs/);
  });
});

describe('pickVictim', () => {
  const nodes = ['node-1', 'node-2', 'node-3'];

  it('draws uniformly from the killable nodes with the injected random source', () => {
    expect(pickVictim(nodes, new Set(), 2, sequence(0))).toEqual({ node: 'node-1' });
    expect(pickVictim(nodes, new Set(), 2, sequence(0.5))).toEqual({ node: 'node-2' });
    expect(pickVictim(nodes, new Set(), 2, sequence(0.999))).toEqual({ node: 'node-3' });
  });

  it('never picks a node that is out already', () => {
    const random = seeded(42);
    for (let i = 0; i < 1_000; i++) {
      const pick = pickVictim(nodes, new Set(['node-2']), 2, random);
      expect(pick).not.toEqual({ node: 'node-2' });
      expect(pick).toHaveProperty('node');
    }
  });

  it('skips, saying why, once maxDown nodes are out (never all of them by default)', () => {
    const pick = pickVictim(nodes, new Set(['node-1', 'node-3']), 2, sequence(0));
    expect(pick).toEqual({
      skip: expect.stringMatching(/2 node\(s\) already out \(node-1, node-3\), --max-down is 2/),
    });
    // Asked for: all three may be out.
    expect(pickVictim(nodes, new Set(['node-1', 'node-3']), 3, sequence(0))).toEqual({ node: 'node-2' });
  });

  it('skips when every killable node is out, even under maxDown', () => {
    expect(pickVictim(['node-2'], new Set(['node-2']), 2, sequence(0))).toEqual({
      skip: expect.stringMatching(/every killable node is out/),
    });
  });
});

describe('victims drawn with a seeded source', () => {
  it('spreads victims over every node', () => {
    const random = seeded(1);
    const counts = new Map<string, number>();
    for (let i = 0; i < 3_000; i++) {
      const pick = pickVictim(['node-1', 'node-2', 'node-3'], new Set(), 2, random);
      if ('node' in pick) counts.set(pick.node, (counts.get(pick.node) ?? 0) + 1);
    }
    for (const n of counts.values()) expect(n).toBeGreaterThan(850);
    expect(counts.size).toBe(3);
  });
});
