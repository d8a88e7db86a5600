/**
 * The polite client's decision against the limiter's real algorithm and header code, on a
 * fake clock: 15 s of arrivals at 50/s against 10/s (token bucket, bursts of 10), answers
 * 4 ms later. Deterministic; the real-process version is tests/polite.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { Politeness } from '../../loadtests/backoff.js';
import type { FieldResponse } from '../../loadtests/ratelimit-fields.js';
import { allowedHeaders, rejection } from '../../services/limiter/headers.js';
import { compilePolicies } from '../../services/limiter/policies.js';

const RATE = 50;
const DURATION_MS = 15_000;
const LATENCY_MS = 4;
const START = 1_800_000_000_000;

function simulate(politeness?: Politeness) {
  const policy = compilePolicies(
    { default: { algorithm: 'token-bucket', limit: 10, window: '1s' } },
    'model',
  ).default;
  const algorithm = policy.algorithm;
  if (!algorithm) throw new Error('not exempt');
  const state = algorithm.init(START);
  let sent = 0;
  let admitted = 0;
  let limited = 0;
  const send = (at: number) => {
    sent++;
    politeness?.sending();
    const decision = algorithm.consume(state, START + at + LATENCY_MS / 2, 1);
    const flat = decision.allowed
      ? allowedHeaders(policy, decision, false)
      : rejection(policy, decision, false).headers;
    const headers: Record<string, string> = {};
    for (let i = 0; i < flat.length; i += 2) headers[flat[i] as string] = flat[i + 1] as string;
    const res: FieldResponse = { status: decision.allowed ? 200 : 429, headers };
    if (decision.allowed) admitted++;
    else limited++;
    politeness?.observe(at + LATENCY_MS, res);
  };
  // Like the engine: an arrival during a backoff is held; the latest held one goes out when it ends.
  let deferred = false;
  const step = 1_000 / RATE;
  for (let at = 0; at < DURATION_MS; at += step) {
    const wait = politeness?.waitMs(at - step) ?? 0;
    if (deferred && politeness && wait > 0 && at - step + wait < at) {
      deferred = false;
      send(at - step + wait);
    }
    if (politeness && politeness.waitMs(at) > 0) {
      deferred = true;
      continue;
    }
    deferred = false;
    send(at);
  }
  return { offered: DURATION_MS / step, sent, admitted, limited };
}

describe('polite vs naive on the real token bucket (fake clock)', () => {
  const naive = simulate();
  const unit = simulate(new Politeness(true, () => START));
  const fullT = simulate(new Politeness(false, () => START));

  it('the naive client sends everything and gets the burst plus the refill rate (10 + 149.8)', () => {
    expect(naive).toEqual({ offered: 750, sent: 750, admitted: 159, limited: 591 });
  });

  it('the polite client gets (nearly) as much admitted with about a fifth of the requests', () => {
    expect(unit.admitted / naive.admitted).toBeGreaterThanOrEqual(0.98);
    expect(unit.sent / naive.sent).toBeLessThan(0.25);
    expect(unit.limited).toBeLessThanOrEqual(1);
  });

  it('waiting the whole t after r=0 (time to a full bucket, whole seconds) gets clearly less', () => {
    expect(fullT.admitted).toBeLessThan(unit.admitted);
    expect(fullT.admitted / naive.admitted).toBeLessThan(0.96);
    console.log(
      `model, 15 s at 50/s vs 10/s: naive ${naive.admitted}/${naive.sent}, polite ${unit.admitted}/${unit.sent}, ` +
        `polite waiting the whole t ${fullT.admitted}/${fullT.sent} (admitted/sent)`,
    );
  });
});
