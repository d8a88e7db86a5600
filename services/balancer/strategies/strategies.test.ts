import { describe, expect, it } from 'vitest';
import { consistentHash } from './consistent-hash.js';
import { leastConnections } from './least-connections.js';
import { peakEwma } from './peak-ewma.js';
import { powerOfTwo } from './power-of-two.js';
import { random } from './random.js';
import { roundRobin } from './round-robin.js';
import { seeded } from './seeded.js';
import type { Backend, PickContext } from './types.js';
import { weightedRoundRobin } from './weighted-round-robin.js';

interface TestBackend extends Backend {
  inFlight: number;
  weight: number;
}
const make = (ids: string[], weights: number[] = []): TestBackend[] =>
  ids.map((id, i) => ({ id, weight: weights[i] ?? 1, inFlight: 0 }));
const noKey: PickContext = { hashKey: () => 'k' };
const keyed = (key: string): PickContext => ({ hashKey: () => key });

function tally(pick: () => Backend | undefined, n: number): Record<string, number> {
  const counts: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const id = (pick() as Backend).id;
    counts[id] = (counts[id] ?? 0) + 1;
  }
  return counts;
}

describe('round-robin', () => {
  it('rotates exactly over 3 healthy upstreams', () => {
    const list = make(['a', 'b', 'c']);
    const rr = roundRobin();
    const order = Array.from({ length: 9 }, () => rr.pick(list, noKey)?.id).join('');
    expect(order).toBe('abcabcabc');
  });
});

describe('weighted-round-robin (smooth)', () => {
  it('gives exactly 3:1:1 in every window of 5 picks, interleaved', () => {
    const list = make(['a', 'b', 'c'], [3, 1, 1]);
    const wrr = weightedRoundRobin();
    const picks = Array.from({ length: 50 }, () => wrr.pick(list, noKey)?.id).join('');
    for (let w = 0; w < 50; w += 5) {
      const window = picks.slice(w, w + 5);
      expect([...window].filter((c) => c === 'a')).toHaveLength(3);
      expect([...window].filter((c) => c === 'b')).toHaveLength(1);
      expect([...window].filter((c) => c === 'c')).toHaveLength(1);
    }
    // Smooth: never the same upstream three times in a row (nginx's sequence: a b a c a).
    expect(picks).not.toMatch(/aaa/);
    expect(picks.slice(0, 5)).toBe('abaca');
  });
});

// Statistical bounds: n picks, share p = 1/3, σ = sqrt(p(1-p)/n); we allow ±4σ.
const N = 30_000;
const FOUR_SIGMA = 4 * Math.sqrt((1 / 3) * (2 / 3) * (1 / N)); // ≈ 0.0109

describe('random', () => {
  it(`spreads ${N} seeded picks within 1/3 ± 4σ (${FOUR_SIGMA.toFixed(4)})`, () => {
    const list = make(['a', 'b', 'c']);
    const r = random({ random: seeded(42) });
    const counts = tally(() => r.pick(list, noKey), N);
    for (const id of ['a', 'b', 'c'])
      expect(Math.abs((counts[id] ?? 0) / N - 1 / 3)).toBeLessThan(FOUR_SIGMA);
  });

  it('follows weights 2:1:1 within ±4σ', () => {
    const list = make(['a', 'b', 'c'], [2, 1, 1]);
    const r = random({ random: seeded(7) });
    const counts = tally(() => r.pick(list, noKey), N);
    const sigma = Math.sqrt(0.25 * 0.75 * (1 / N));
    expect(Math.abs((counts.a ?? 0) / N - 0.5)).toBeLessThan(4 * Math.sqrt(0.25 / N));
    expect(Math.abs((counts.b ?? 0) / N - 0.25)).toBeLessThan(4 * sigma);
  });
});

describe('power-of-two', () => {
  it(`spreads ${N} seeded picks over idle upstreams within 1/3 ± 4σ`, () => {
    const list = make(['a', 'b', 'c']);
    const p2c = powerOfTwo({ random: seeded(9) });
    const counts = tally(() => p2c.pick(list, noKey), N);
    for (const id of ['a', 'b', 'c'])
      expect(Math.abs((counts[id] ?? 0) / N - 1 / 3)).toBeLessThan(FOUR_SIGMA);
  });

  it('never picks the most loaded of three, and the least loaded 2/3 of the time (± 4σ)', () => {
    const list = make(['a', 'b', 'c']);
    (list[0] as TestBackend).inFlight = 5;
    (list[1] as TestBackend).inFlight = 1;
    const p2c = powerOfTwo({ random: seeded(11) });
    const counts = tally(() => p2c.pick(list, noKey), N);
    expect(counts.a ?? 0).toBe(0);
    // c (idle) wins both pairs it is in: 2 of the 3 equally likely pairs.
    expect(Math.abs((counts.c ?? 0) / N - 2 / 3)).toBeLessThan(FOUR_SIGMA);
  });
});

describe('least-connections', () => {
  it('picks the upstream with the fewest requests in flight', () => {
    const list = make(['a', 'b', 'c']);
    (list[0] as TestBackend).inFlight = 2;
    (list[1] as TestBackend).inFlight = 0;
    (list[2] as TestBackend).inFlight = 1;
    const lc = leastConnections({ random: seeded(1) });
    for (let i = 0; i < 20; i++) expect(lc.pick(list, noKey)?.id).toBe('b');
  });

  it('breaks ties fairly, not always the first upstream', () => {
    const list = make(['a', 'b', 'c']);
    const lc = leastConnections({ random: seeded(5) });
    const counts = tally(() => lc.pick(list, noKey), N);
    for (const id of ['a', 'b', 'c'])
      expect(Math.abs((counts[id] ?? 0) / N - 1 / 3)).toBeLessThan(FOUR_SIGMA);
  });
});

describe('peak-ewma', () => {
  it('moves traffic away from an upstream whose latency jumps, and back after it decays', () => {
    let t = 0;
    const list = make(['a', 'b', 'c']);
    const ewma = peakEwma({ random: seeded(3), now: () => t }, { decayMs: 1_000 });
    for (const b of list) ewma.onRequestEnd?.(b, { latencyMs: 5, ok: true });
    ewma.onRequestEnd?.(list[0] as Backend, { latencyMs: 200, ok: true }); // a: one slow answer
    const counts = tally(() => ewma.pick(list, noKey), 3_000);
    // a only wins when both draws... it never wins: its cost is 40× the others'.
    expect(counts.a ?? 0).toBe(0);
    t += 10_000; // ten time constants later the peak has decayed
    for (const b of list.slice(1)) ewma.onRequestEnd?.(b, { latencyMs: 5, ok: true });
    const after = tally(() => ewma.pick(list, noKey), 3_000);
    expect(after.a ?? 0).toBeGreaterThan(600);
  });

  it('counts a failure as at least the penalty latency', () => {
    const list = make(['a', 'b']);
    const ewma = peakEwma({ random: seeded(4), now: () => 0 });
    ewma.onRequestEnd?.(list[0] as Backend, { latencyMs: 1, ok: false });
    ewma.onRequestEnd?.(list[1] as Backend, { latencyMs: 50, ok: true });
    expect(ewma.pick(list, noKey)?.id).toBe('b');
  });
});

describe('consistent-hash', () => {
  const keys = Array.from({ length: 10_000 }, (_, i) => `key-${i}`);
  const placement = (list: Backend[], strategy = consistentHash()) =>
    keys.map((k) => (strategy.pick(list, keyed(k)) as Backend).id);

  it('sends the same key to the same upstream every time', () => {
    const list = make(['n1', 'n2', 'n3']);
    const ch = consistentHash();
    const first = placement(list, ch);
    expect(placement(list, ch)).toEqual(first);
    // ... and independently of list order and of the instance
    expect(placement([...list].reverse(), consistentHash())).toEqual(first);
  });

  it('adding a 4th upstream moves 15–35 % of 10,000 keys, all of them to the new one', () => {
    const three = make(['n1', 'n2', 'n3']);
    const four = [...three, ...make(['n4'])];
    const before = placement(three);
    const after = placement(four);
    const moved = after.filter((id, i) => id !== before[i]);
    const share = moved.length / keys.length;
    expect(share, `moved ${(share * 100).toFixed(1)} %`).toBeGreaterThan(0.15);
    expect(share).toBeLessThan(0.35);
    expect(new Set(moved)).toEqual(new Set(['n4']));
  });

  it("removing an upstream moves only that upstream's keys", () => {
    const three = make(['n1', 'n2', 'n3']);
    const before = placement(three);
    const after = placement(three.filter((b) => b.id !== 'n2'));
    for (let i = 0; i < keys.length; i++) if (before[i] !== 'n2') expect(after[i]).toBe(before[i]);
  });

  it('with bounded load, passes a key on when its upstream is over c × average', () => {
    const list = make(['n1', 'n2', 'n3']);
    const plain = consistentHash();
    const key = 'hot-key';
    const home = plain.pick(list, keyed(key)) as TestBackend;
    home.inFlight = 10; // the others are idle: average (10 + 1) / 3, capacity ceil(1.25 × 11 / 3) = 5
    const bounded = consistentHash({}, { hashLoadFactor: 1.25 });
    expect(bounded.pick(list, keyed(key))?.id).not.toBe(home.id);
    expect(plain.pick(list, keyed(key))?.id).toBe(home.id);
  });

  it('refuses a bad configuration when created', () => {
    expect(() => consistentHash({}, { hashLoadFactor: 0.5 })).toThrow(/hashLoadFactor/);
    expect(() => consistentHash({}, { vnodes: 0 })).toThrow(/vnodes/);
  });
});
