import { describe, expect, it } from 'vitest';
import { parseLine } from './format.js';
import { type LbCounts, lbRows, renderLbFrame, renderLbLine, renderLbSummary } from './lb-render.js';

const view = {
  target: 'http://127.0.0.1:8081',
  strategy: 'round-robin',
  elapsedS: 5,
  durationS: 60,
  windowS: 5,
  rate: 20,
};

describe('lbRows', () => {
  it('orders nodes naturally, then 429s, then errors', () => {
    const rows = lbRows({
      nodes: [
        { name: 'node-10', count: 1 },
        { name: 'node-2', count: 1 },
        { name: 'node-1', count: 1 },
      ],
      limited: 1,
      errors: 1,
    });
    expect(rows.map((r) => r.label)).toEqual(['node-1', 'node-2', 'node-10', '429s', 'errors']);
    expect(rows.map((r) => r.kind)).toEqual(['node', 'node', 'node', 'limited', 'errors']);
  });

  it('computes percentages of every answer and bars proportional to them', () => {
    const rows = lbRows(
      {
        nodes: [
          { name: 'a', count: 50 },
          { name: 'b', count: 25 },
        ],
        limited: 20,
        errors: 5,
      },
      40,
    );
    expect(rows.map((r) => r.pct)).toEqual([50, 25, 20, 5]);
    expect(rows.map((r) => r.length)).toEqual([20, 10, 8, 2]);
    expect(rows.every((r) => r.bar === '█'.repeat(r.length))).toBe(true);
    expect(rows.reduce((s, r) => s + r.pct, 0)).toBeCloseTo(100);
  });

  it('draws nothing (and no NaN) when nothing has answered', () => {
    const rows = lbRows({ nodes: [{ name: 'node-1', count: 0 }], limited: 0, errors: 0 });
    expect(rows.map((r) => [r.pct, r.length])).toEqual([
      [0, 0],
      [0, 0],
      [0, 0],
    ]);
  });

  it('gives equal counts equal bars and a smaller count a shorter bar', () => {
    const rows = lbRows({
      nodes: [
        { name: 'node-1', count: 40 },
        { name: 'node-2', count: 10 },
        { name: 'node-3', count: 40 },
      ],
      limited: 0,
      errors: 0,
    });
    const [n1, n2, n3] = rows;
    expect(n1?.length).toBe(n3?.length);
    expect(n2?.length).toBeLessThan(n1?.length ?? 0);
  });
});

describe('renderLbFrame', () => {
  const counts: LbCounts = {
    nodes: [
      { name: 'node-1', count: 30, inFlight: 2, up: true },
      { name: 'node-2', count: 10, inFlight: 9, up: false },
    ],
    limited: 0,
    errors: 0,
  };
  it('puts the strategy in the title and one line per row with count, percentage, bar and load', () => {
    const frame = renderLbFrame(view, counts, { width: 20 });
    const lines = frame.split('\n');
    expect(lines[0]).toContain('round-robin');
    const node1 = lines.find((l) => l.startsWith('node-1')) ?? '';
    expect(node1).toContain('30 ( 75.0%)');
    expect(node1).toContain('█'.repeat(15));
    expect(node1).toContain('in-flight   2');
    expect(lines.find((l) => l.startsWith('node-2'))).toContain('DOWN');
    expect(frame).not.toContain('\x1b');
  });
  it('says when the strategy is unknown', () => {
    expect(renderLbFrame({ ...view, strategy: undefined }, counts).split('\n')[0]).toContain(
      'strategy unknown',
    );
  });
});

describe('renderLbLine', () => {
  it('prints one parsable key=value line', () => {
    const line = renderLbLine(view, {
      nodes: [
        { name: 'node-2', count: 7 },
        { name: 'node-1', count: 8 },
      ],
      limited: 3,
      errors: 1,
    });
    expect(line).not.toContain('\n');
    expect(parseLine(line)).toEqual({
      t: 5,
      strategy: 'round-robin',
      window_s: 5,
      total: 19,
      'node-1': 8,
      'node-2': 7,
      '429s': 3,
      errors: 1,
    });
    expect(line.indexOf('node-1')).toBeLessThan(line.indexOf('node-2'));
  });
});

describe('renderLbSummary', () => {
  it('ends with a final=lb line carrying the totals and latency', () => {
    const text = renderLbSummary(view, {
      nodes: [{ name: 'node-1', count: 10 }],
      limited: 0,
      errors: 2,
      dropped: 1,
      p50: 2.345,
      p95: 10,
    });
    const last = parseLine(text.split('\n').at(-1) ?? '');
    expect(last).toMatchObject({
      final: 'lb',
      total: 12,
      'node-1': 10,
      errors: 2,
      dropped: 1,
      p50_ms: 2.3,
      p95_ms: 10,
    });
    expect(text).toContain('83.3%');
  });
});
