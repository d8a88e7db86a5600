import { describe, expect, it } from 'vitest';
import type { ActorSummary } from '../../services/traffic/stats.js';
import { parseLine } from '../viz/format.js';
import { parseVizLbArgs } from '../viz-lb.js';
import { parseVizRlArgs } from '../viz-rl.js';
import { withClients } from './admin.js';
import { renderIncidentReport } from './report.js';

function summary(actor: string, ok: number, limited: number, errors: number, p95: number): ActorSummary {
  const total = ok + limited + errors;
  return {
    actor,
    total,
    ok,
    limited,
    errors,
    dropped: 0,
    statuses: { 200: ok, ...(limited ? { 429: limited } : {}), ...(errors ? { timeout: errors } : {}) },
    successRate: ok / total,
    p50: p95 / 2,
    p95,
    max: p95,
  };
}

describe('renderIncidentReport', () => {
  const text = renderIncidentReport(
    'noisy_customer',
    [summary('good_customer', 8, 0, 9, 2528.9), summary('noisy_customer', 218, 0, 275, 2728)],
    [summary('good_customer', 20, 0, 0, 472.6), summary('noisy_customer', 60, 690, 0, 46)],
    ['good_customer'],
  );
  it('prints one parsable line per actor and phase', () => {
    const lines = text
      .split('\n')
      .filter((l) => l.startsWith('incident='))
      .map(parseLine);
    expect(lines.map((l) => `${l.phase}/${l.actor}`)).toEqual([
      'before/good_customer',
      'before/noisy_customer',
      'after/good_customer',
      'after/noisy_customer',
    ]);
    expect(lines[0]).toMatchObject({ sent: 17, ok: 8, errors: 9, success_pct: 47.06, p95_ms: 2528.9 });
    expect(lines[0]?.statuses).toBe('200:8,timeout:9');
    expect(lines[3]).toMatchObject({ '429s': 690 });
  });
  it('ends with a verdict on the watched actor', () => {
    expect(text.split('\n').at(-1)).toBe(
      'verdict: good_customer: success 47.1% → 100.0%, errors 52.9% → 0.0%, 429s 0.0% → 0.0%, p95 2529 ms → 473 ms',
    );
  });
  it('says so when there was no after phase', () => {
    expect(
      renderIncidentReport(
        'strict_limit',
        [summary('internal_config', 20, 30, 0, 200)],
        [],
        ['internal_config'],
      ),
    ).toContain('verdict: no "after" phase');
  });
});

describe('withClients', () => {
  it('overrides only the named clients and keeps the rest', () => {
    const doc = { default: { algorithm: 'token-bucket' }, clients: { a: { limit: 1 }, b: { limit: 2 } } };
    expect(withClients(doc, { b: { exempt: true }, c: { limit: 3 } })).toEqual({
      default: { algorithm: 'token-bucket' },
      clients: { a: { limit: 1 }, b: { exempt: true }, c: { limit: 3 } },
    });
    expect(doc.clients.b).toEqual({ limit: 2 });
  });
});

describe('CLI flags', () => {
  it('viz:lb takes its defaults from the environment and the scenario file', () => {
    expect(parseVizLbArgs([], { BALANCER_URL: 'http://127.0.0.1:9999/' })).toMatchObject({
      target: 'http://127.0.0.1:9999',
      rate: 20,
      durationMs: 60_000,
      windowMs: 5_000,
    });
    expect(parseVizLbArgs(['--rate', '50', '--window', '3s', '--duration', '10'], {})).toMatchObject({
      rate: 50,
      windowMs: 3_000,
      durationMs: 10_000,
    });
  });
  it('names a bad flag', () => {
    expect(() => parseVizLbArgs(['--rate', '0'], {})).toThrow(/--rate must be a number/);
    expect(() => parseVizLbArgs(['--window', 'soon'], {})).toThrow(/--window must be a duration/);
    expect(() => parseVizRlArgs(['--target', 'ftp://x'], {})).toThrow(/--target must be an http/);
  });
  it('viz:rl defaults: the good user at 1/s, the bad actor at 20/s', () => {
    expect(parseVizRlArgs([], {})).toMatchObject({
      target: 'http://127.0.0.1:8080',
      goodRate: 1,
      badRate: 20,
    });
  });
});
