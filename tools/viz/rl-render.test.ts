import { describe, expect, it } from 'vitest';
import type { ActorCounts, ActorSummary } from '../../services/traffic/stats.js';
import { parseLine } from './format.js';
import { renderRlEvent, renderRlFrame, renderRlLine, renderRlSummary } from './rl-render.js';

const view = {
  target: 'http://127.0.0.1:8080',
  elapsedS: 3,
  durationS: 10,
  rates: { good_user: 1, bad_actor: 10 },
};
const counts: Record<string, ActorCounts> = {
  good_user: { total: 3, ok: 3, limited: 0, errors: 0, dropped: 0, statuses: { 200: 3 } },
  bad_actor: {
    total: 30,
    ok: 10,
    limited: 19,
    errors: 1,
    dropped: 0,
    statuses: { 200: 10, 429: 19, 500: 1 },
  },
};

describe('renderRlEvent', () => {
  it('shows who, the status, latency and the remaining quota', () => {
    const line = renderRlEvent({ actor: 'bad_actor', status: 429, latencyMs: 0.84, at: 1, remaining: 0 });
    expect(line).toContain('😈 bad actor');
    expect(line).toContain('429 BLOCKED');
    expect(line).toContain('0.8 ms');
    expect(line).toContain('remaining 0');
    const good = renderRlEvent({ actor: 'good_user', status: 200, latencyMs: 12, at: 1, remaining: 19 });
    expect(good).toMatch(/😇 good user\s+200 OK\s+12\.0 ms\s+remaining 19/);
  });
  it('names a failure without an answer and an unknown quota', () => {
    const line = renderRlEvent({ actor: 'good_user', status: 0, error: 'timeout', latencyMs: 5000, at: 1 });
    expect(line).toContain('--- timeout');
    expect(line).toContain('remaining ?');
  });
});

describe('renderRlFrame', () => {
  it('has a counter row per actor and the latest lines in order', () => {
    const frame = renderRlFrame(view, counts, [
      { actor: 'good_user', status: 200, latencyMs: 3, at: 1 },
      { actor: 'bad_actor', status: 429, latencyMs: 1, at: 2 },
    ]);
    const lines = frame.split('\n');
    const good = lines.find((l) => l.startsWith('😇')) ?? '';
    const bad = lines.find((l) => l.startsWith('😈') && l.includes('req/s')) ?? '';
    expect(good).toMatch(/1 req\/s.*200\s+3\s+429\s+0/);
    expect(bad).toMatch(/10 req\/s.*200\s+10\s+429\s+19\s+err\s+1/);
    expect(lines.findIndex((l) => l.includes('200 OK'))).toBeLessThan(
      lines.findIndex((l) => l.includes('BLOCKED')),
    );
  });
});

describe('renderRlLine', () => {
  it('prints one parsable line per interval', () => {
    expect(parseLine(renderRlLine(view, counts))).toEqual({
      t: 3,
      'good_user.ok': 3,
      'good_user.429': 0,
      'good_user.err': 0,
      'bad_actor.ok': 10,
      'bad_actor.429': 19,
      'bad_actor.err': 1,
    });
  });
});

describe('renderRlSummary', () => {
  it('reports success rate and p50/p95 per actor, table and parsable lines', () => {
    const summaries: ActorSummary[] = [
      { actor: 'good_user', ...(counts.good_user as ActorCounts), successRate: 1, p50: 2, p95: 4, max: 5 },
      {
        actor: 'bad_actor',
        ...(counts.bad_actor as ActorCounts),
        successRate: 1 / 3,
        p50: 1,
        p95: 3,
        max: 9,
      },
    ];
    const text = renderRlSummary(view, summaries);
    expect(text).toContain('100.0%');
    expect(text).toContain('33.3%');
    const finals = text
      .split('\n')
      .filter((l) => l.startsWith('final=rl'))
      .map(parseLine);
    expect(finals).toEqual([
      expect.objectContaining({
        actor: 'good_user',
        ok: 3,
        '429s': 0,
        success_pct: 100,
        p50_ms: 2,
        p95_ms: 4,
      }),
      expect.objectContaining({ actor: 'bad_actor', ok: 10, '429s': 19, success_pct: 33.33 }),
    ]);
  });
});
