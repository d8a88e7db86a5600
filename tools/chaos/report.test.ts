import { describe, expect, it } from 'vitest';
import { type ChaosReport, type Fault, renderReport, summarize } from './report.js';

const head: Parameters<typeof summarize>[0] = {
  target: 'local',
  seed: 7,
  settings: {
    durationS: 30,
    everyS: 5,
    restartAfterS: 2,
    rate: 20,
    killable: ['node-1', 'node-2', 'node-3'],
    maxDown: 2,
  },
  elapsedS: 30.0123,
  aborted: false,
  skipped: [],
};

const fault = (node: string, killedAtS: number, backAtS: number | null): Fault => ({
  node,
  killedAtS,
  restartedAtS: killedAtS + 2,
  backAtS,
  outS: backAtS === null ? null : backAtS - killedAtS,
  seenDown: true,
});

function report(overrides: Partial<Parameters<typeof summarize>[1]> = {}): ChaosReport {
  return summarize(head, {
    allNodes: ['node-1', 'node-2', 'node-3'],
    faults: [fault('node-2', 5.0012, 9.3456), fault('node-1', 10, 14.5), fault('node-2', 15, 19)],
    healthyAtEnd: { 'node-1': true, 'node-2': true, 'node-3': true },
    statuses: { '200': 598 },
    dropped: 0,
    latenciesMs: [1, 2, 3, 4, 100],
    ...overrides,
  });
}

describe('summarize', () => {
  it('counts requests, faults and each node’s time out consistently', () => {
    const r = report();
    expect(r.requests).toMatchObject({ sent: 598, ok: 598, failed: 0, failures: {}, p50Ms: 3, maxMs: 100 });
    expect(r.faults.map((f) => f.outS)).toEqual([4.34, 4.5, 4]);
    expect(r.nodes).toEqual([
      { name: 'node-1', kills: 1, outS: 4.5, back: true },
      { name: 'node-2', kills: 2, outS: 8.34, back: true },
      { name: 'node-3', kills: 0, outS: 0, back: true },
    ]);
    expect(r.nodes.reduce((n, x) => n + x.kills, 0)).toBe(r.faults.length);
    expect(r.allBack).toBe(true);
    expect(r.elapsedS).toBe(30.01);
  });

  it('counts every non-2xx/3xx answer and connection error as a failure, by kind', () => {
    const r = report({ statuses: { '200': 90, '304': 2, '502': 3, '429': 1, ECONNREFUSED: 2, timeout: 1 } });
    expect(r.requests).toMatchObject({ sent: 99, ok: 92, failed: 7 });
    expect(r.requests.failures).toEqual({ '502': 3, '429': 1, ECONNREFUSED: 2, timeout: 1 });
  });

  it('is not all back when a node is unhealthy at the end', () => {
    const r = report({
      faults: [fault('node-3', 25, null)],
      healthyAtEnd: { 'node-1': true, 'node-2': true, 'node-3': false },
    });
    expect(r.allBack).toBe(false);
    expect(r.nodes[2]).toEqual({ name: 'node-3', kills: 1, outS: 0, back: false });
  });
});

describe('renderReport', () => {
  it('prints the settings, requests, one line per fault and per node, and the verdict', () => {
    const text = renderReport(report());
    expect(text).toContain('=== Chaos report (local lab) ===');
    expect(text).toContain('30s, a kill every 5s, restart after 2s, 20 req/s, seed 7');
    expect(text).toContain('requests: 598 sent, 598 ok, 0 failed;');
    expect(text).toContain('faults injected: 3');
    expect(text).toMatch(/ {2}node-2 {5}5\.0s {5}7\.0s {4}9\.3s {4}4\.3s/);
    expect(text).toContain('node-2   killed 2×, out 8.3s in all, back');
    expect(text).toMatch(/verdict: every node back, no failed request$/);
  });

  it('names the failures, the skipped kills, a node never ejected and one not back', () => {
    const never = { ...fault('node-3', 25, null), seenDown: false };
    const r = summarize(
      { ...head, aborted: true, skipped: [{ atS: 20, reason: '2 node(s) already out' }] },
      {
        allNodes: ['node-1', 'node-2', 'node-3'],
        faults: [never],
        healthyAtEnd: { 'node-1': true, 'node-2': true },
        statuses: { '200': 10, '502': 2, ECONNRESET: 1 },
        dropped: 4,
        latenciesMs: [],
      },
    );
    const text = renderReport(r);
    expect(text).toContain('(local lab, stopped early)');
    expect(text).toContain('13 sent, 10 ok, 3 failed (502×2, ECONNRESET×1), 4 not sent (too many waiting)');
    expect(text).toContain('faults injected: 1 (1 kill(s) skipped: too many nodes out)');
    expect(text).toContain('(never ejected)');
    expect(text).toContain('node-3   killed 1×, out 0.0s in all, NOT BACK');
    expect(text).toMatch(/verdict: NOT every node is back, 3 failed request\(s\)$/);
  });
});
