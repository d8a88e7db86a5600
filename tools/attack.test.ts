import { describe, expect, it } from 'vitest';
import type { ActorSummary } from '../services/traffic/stats.js';
import { attackThresholds } from './attack.js';

const summary = (actor: string, counts: Partial<ActorSummary>): ActorSummary => ({
  actor,
  total: 100,
  ok: 100,
  limited: 0,
  errors: 0,
  dropped: 0,
  statuses: {},
  successRate: 1,
  p50: 5,
  p95: 20,
  max: 40,
  ...counts,
});

describe('attackThresholds (the k6 script loadtests/attack.ts in Node)', () => {
  it('passes a served good user and a throttled bad actor', () => {
    const thresholds = attackThresholds(
      summary('good_user', {}),
      summary('bad_actor', { ok: 10, limited: 90 }),
    );
    expect(thresholds.every((t) => t.passed)).toBe(true);
  });

  it('fails a good user with 2% failures or a slow p95, and a bad actor let through', () => {
    const good = summary('good_user', { ok: 98, errors: 2, successRate: 0.98, p95: 600 });
    const bad = summary('bad_actor', { ok: 60, limited: 40 });
    expect(attackThresholds(good, bad).map((t) => t.passed)).toEqual([false, false, false, false]);
  });
});
