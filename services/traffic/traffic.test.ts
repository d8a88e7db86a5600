import { once } from 'node:events';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seeded } from '../balancer/strategies/seeded.js';
import { due, nextArrivalAt } from './arrivals.js';
import { runTraffic } from './engine.js';
import { remainingFrom } from './ratelimit-header.js';
import { incidentNamed, loadScenarios, patternOf, requestFor, SCENARIO_FILE } from './scenarios.js';
import { classify, type Outcome, percentile, Recorder, WindowRecorder } from './stats.js';

describe('arrivals (open model)', () => {
  it('a rate starts one arrival at 0 and then one every 1/rate, whatever the timer jitter', () => {
    const p = { kind: 'rate', rate: 10 } as const;
    expect([0, 99, 100, 950, 1000].map((t) => due(p, t))).toEqual([1, 1, 2, 10, 11]);
    expect(nextArrivalAt(p, 1)).toBe(100);
    for (let n = 1; n < 50; n++) expect(due(p, nextArrivalAt(p, n))).toBe(n + 1);
  });
  it('thirds do not drift', () => {
    const p = { kind: 'rate', rate: 3 } as const;
    expect(due(p, 10_000)).toBe(31);
    for (let n = 1; n < 50; n++) expect(due(p, nextArrivalAt(p, n))).toBe(n + 1);
  });
  it('bursts send size at once every interval, after startTime', () => {
    const p = { kind: 'bursts', everyMs: 5_000, size: 25, startMs: 1_000 } as const;
    expect([0, 999, 1_000, 5_999, 6_000].map((t) => due(p, t))).toEqual([0, 0, 25, 25, 50]);
    expect(nextArrivalAt(p, 25)).toBe(6_000);
  });
  it('a zero rate sends nothing', () => {
    expect(due({ kind: 'rate', rate: 0 }, 10_000)).toBe(0);
    expect(nextArrivalAt({ kind: 'rate', rate: 0 }, 0)).toBe(Number.POSITIVE_INFINITY);
  });
});

describe('stats', () => {
  it('classifies 2xx/3xx ok, 429 limited, the rest errors', () => {
    expect([200, 304, 429, 404, 500, 0].map(classify)).toEqual([
      'ok',
      'ok',
      'limited',
      'error',
      'error',
      'error',
    ]);
  });
  it('nearest-rank percentiles', () => {
    const sorted = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(sorted, 50)).toBe(50);
    expect(percentile(sorted, 95)).toBe(95);
    expect(percentile([], 95)).toBe(0);
  });
  it('counts per actor and keeps only the window in recent()', () => {
    const r = new Recorder(1_000);
    r.record({ actor: 'a', status: 200, latencyMs: 1, at: 100 });
    r.record({ actor: 'a', status: 429, latencyMs: 2, at: 900 });
    r.record({ actor: 'a', status: 0, error: 'timeout', latencyMs: 3, at: 1_500 });
    r.drop('a');
    expect(r.counts('a')).toMatchObject({ total: 3, ok: 1, limited: 1, errors: 1, dropped: 1 });
    expect(r.counts('a').statuses).toEqual({ 200: 1, 429: 1, timeout: 1 });
    expect(r.recent(1_600).map((o) => o.at)).toEqual([900, 1_500]);
    expect(r.summary('a')).toMatchObject({ successRate: 1 / 3, p50: 2, p95: 3, max: 3 });
  });
});

describe('WindowRecorder (the console: bounded by the window, not the traffic)', () => {
  const exactPercentiles = (outcomes: Outcome[], actor: string, now: number, windowMs: number) => {
    const sorted = outcomes
      .filter((o) => o.actor === actor && o.status !== 0 && o.at >= now - windowMs && o.at <= now)
      .map((o) => o.latencyMs)
      .sort((a, b) => a - b);
    return { p50: percentile(sorted, 50), p95: percentile(sorted, 95), samples: sorted.length };
  };

  it('matches an exact p50/p95 over the last window while no second exceeds the cap', () => {
    const random = seeded(7);
    const recorder = new WindowRecorder({ windowMs: 5_000, samplesPerSecond: 1_000, random });
    const outcomes: Outcome[] = [];
    // 20 simulated seconds, 300..900 answers a second at irregular times, a second actor, and timeouts.
    for (let second = 0; second < 20; second++) {
      const n = 300 + Math.floor(random() * 600);
      const times = Array.from({ length: n }, () => second * 1_000 + random() * 1_000).sort((a, b) => a - b);
      for (const at of times) {
        const actor = random() < 0.8 ? 'good' : 'bad';
        const status = random() < 0.05 ? 0 : 200;
        const outcome = { actor, status, latencyMs: Math.round(random() * 50_000) / 100, at };
        outcomes.push(outcome);
        recorder.record(outcome);
      }
      for (const now of [second * 1_000 + 999.5, second * 1_000 + 437.25]) {
        for (const actor of ['good', 'bad']) {
          expect(recorder.latency(actor, now)).toEqual(exactPercentiles(outcomes, actor, now, 5_000));
        }
      }
    }
    expect(recorder.latency('good', 19_999).samples).toBeGreaterThan(1_000);
    expect(recorder.counts('good').total + recorder.counts('bad').total).toBe(outcomes.length);
    // An answer older than the whole ring is outside every window: it is counted, not kept.
    recorder.record({ actor: 'good', status: 200, latencyMs: 1e6, at: 3_000 });
    expect(recorder.latency('good', 19_999).p95).toBe(exactPercentiles(outcomes, 'good', 19_999, 5_000).p95);
  });

  it('keeps at most (ceil(window/1s) + 1) × samplesPerSecond over an hour of traffic, counters exact', () => {
    const recorder = new WindowRecorder({ windowMs: 5_000, samplesPerSecond: 500, random: seeded(1) });
    const bound = (Math.ceil(5_000 / 1_000) + 1) * 500;
    const rate = 1_000; // twice the cap: every second overflows and is sampled
    const outcome: Outcome = { actor: 'good', status: 200, latencyMs: 0, at: 0 };
    let maxRetained = 0;
    for (let second = 0; second < 3_600; second++) {
      for (let i = 0; i < rate; i++) {
        outcome.at = second * 1_000 + i; // one a ms
        outcome.latencyMs = i; // uniform 0..999 within each second
        recorder.record(outcome);
      }
      maxRetained = Math.max(maxRetained, recorder.retained);
    }
    expect(recorder.counts('good')).toMatchObject({ total: 3_600 * rate, ok: 3_600 * rate });
    expect(maxRetained).toBe(bound);
    const latency = recorder.latency('good', 3_600_000);
    // The window's 5 whole seconds, sampled to 500 each; a uniform sample, so near the exact
    // 499 / 949 (keeping the first 500 of each second would give 249 / 474).
    expect(latency.samples).toBe(5 * 500);
    expect(Math.abs(latency.p50 - 499)).toBeLessThan(40);
    expect(Math.abs(latency.p95 - 949)).toBeLessThan(20);
  });

  it('answers with few seconds seen: one answer, an actor with none, a quiet gap', () => {
    const recorder = new WindowRecorder({ windowMs: 5_000 });
    recorder.declare('idle');
    recorder.record({ actor: 'good', status: 200, latencyMs: 3, at: 1_234.5 });
    expect(recorder.latency('good', 2_000)).toEqual({ p50: 3, p95: 3, samples: 1 });
    expect(recorder.latency('idle', 2_000)).toEqual({ p50: 0, p95: 0, samples: 0 });
    recorder.record({ actor: 'good', status: 200, latencyMs: 7, at: 60_000 });
    expect(recorder.latency('good', 60_500)).toEqual({ p50: 7, p95: 7, samples: 1 });
  });

  it('refuses a window or a cap that is not a positive number, naming it', () => {
    expect(() => new WindowRecorder({ windowMs: 0 })).toThrow(/windowMs/);
    expect(() => new WindowRecorder({ windowMs: Number.NaN })).toThrow(/windowMs/);
    expect(() => new WindowRecorder({ samplesPerSecond: 1.5 })).toThrow(/samplesPerSecond/);
  });
});

describe('remainingFrom', () => {
  it('reads the draft RateLimit field, the smallest r of several policies', () => {
    expect(remainingFrom({ ratelimit: '"default";r=4;t=1' })).toBe(4);
    expect(remainingFrom({ ratelimit: '"a";r=9;t=1, "b";r=2;t=60' })).toBe(2);
  });
  it('falls back to X-RateLimit-Remaining, else undefined', () => {
    expect(remainingFrom({ 'x-ratelimit-remaining': '7' })).toBe(7);
    expect(remainingFrom({})).toBeUndefined();
  });
});

describe('scenario file', () => {
  it('is valid and has what the tools use', () => {
    const file = loadScenarios();
    expect(file.actors.good_user?.key).not.toBe(file.actors.bad_actor?.key);
    expect(file.scenarios.viz_lb?.target).toBe('balancer');
    const internal = file.incidents.strict_limit?.traffic.internal_config;
    expect(internal && patternOf(internal)).toMatchObject({ kind: 'bursts' });
  });
  it('names an incident that watches an actor outside its traffic, and an unknown incident', () => {
    const file = JSON.parse(readFileSync(SCENARIO_FILE, 'utf8'));
    file.incidents.strict_limit.watch = ['good_user'];
    const path = join(mkdtempSync(join(tmpdir(), 'scenarios-')), 'scenarios.json');
    writeFileSync(path, JSON.stringify(file));
    expect(() => loadScenarios(path)).toThrow(
      /incident strict_limit watches "good_user", which is not in its traffic/,
    );
    expect(() => incidentNamed(loadScenarios(), 'nope')).toThrow(
      /no incident "nope".*known: noisy-customer, strict-limit/,
    );
    expect(incidentNamed(loadScenarios(), 'strict-limit')[0]).toBe('strict_limit');
  });
  it('builds requests with the key and {n} substituted', () => {
    const spec = {
      method: 'POST' as const,
      path: '/data',
      key: 'k',
      keySpace: 3,
      body: { key: 'item-{n}', value: 'v' },
    };
    expect(requestFor(spec, 4)).toEqual({
      method: 'POST',
      path: '/data',
      headers: { 'x-api-key': 'k', 'content-type': 'application/json' },
      body: '{"key":"item-1","value":"v"}',
    });
  });
});

describe('runTraffic against a real loopback server', () => {
  let server: Server;
  let base: string;
  let sockets = 0;
  beforeAll(async () => {
    server = createServer((req, res) => {
      const slow = req.url === '/slow';
      setTimeout(
        () => {
          res.writeHead(req.headers['x-api-key'] === 'bad' ? 429 : 200, {
            'x-upstream': 'node-1',
            ratelimit: '"default";r=3;t=1',
          });
          res.end('{}');
        },
        slow ? 2_000 : 0,
      );
    });
    server.on('connection', () => {
      sockets += 1;
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  afterAll(() => {
    server.closeAllConnections();
    server.close();
  });

  it('sends at the arrival rate on keep-alive connections, recording status, upstream and quota', async () => {
    sockets = 0;
    const outcomes: { actor: string; status: number; upstream?: string; remaining?: number }[] = [];
    const result = await runTraffic({
      target: base,
      durationMs: 1_000,
      actors: [
        {
          name: 'good',
          pattern: { kind: 'rate', rate: 20 },
          request: () => ({ method: 'GET', path: '/', headers: {} }),
        },
        {
          name: 'bad',
          pattern: { kind: 'rate', rate: 40 },
          request: () => ({ method: 'GET', path: '/', headers: { 'x-api-key': 'bad' } }),
        },
      ],
      onOutcome: (o) => outcomes.push(o),
    });
    expect(result.reason).toBe('duration');
    // 1 s at 20 and 40 req/s: exactly 20 and 40 arrivals (counted on the clock, not per timer tick).
    expect(result.started).toEqual({ good: 20, bad: 40 });
    expect(outcomes.length).toBe((result.started.good ?? 0) + (result.started.bad ?? 0));
    expect(outcomes.filter((o) => o.actor === 'bad').every((o) => o.status === 429)).toBe(true);
    expect(outcomes.every((o) => o.upstream === 'node-1' && o.remaining === 3)).toBe(true);
    // Keep-alive: far fewer connections than requests.
    expect(sockets).toBeLessThan(outcomes.length / 2);
  });

  it('drops arrivals beyond maxInFlight and times out slow requests', async () => {
    const outcomes: { status: number; error?: string }[] = [];
    let dropped = 0;
    await runTraffic({
      target: base,
      durationMs: 500,
      maxInFlight: 3,
      timeoutMs: 300,
      graceMs: 1_000,
      actors: [
        {
          name: 'a',
          pattern: { kind: 'rate', rate: 20 },
          request: () => ({ method: 'GET', path: '/slow', headers: {} }),
        },
      ],
      onOutcome: (o) => outcomes.push(o),
      onDrop: () => {
        dropped += 1;
      },
    });
    expect(outcomes.length).toBeGreaterThanOrEqual(3);
    expect(outcomes.every((o) => o.status === 0 && o.error === 'timeout')).toBe(true);
    expect(dropped).toBeGreaterThan(0);
  });

  it('stops early and cleanly on abort, cancelling what is still in flight after the grace', async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 200);
    const started = performance.now();
    const result = await runTraffic({
      target: base,
      durationMs: 30_000,
      graceMs: 100,
      signal: controller.signal,
      actors: [
        {
          name: 'a',
          pattern: { kind: 'rate', rate: 10 },
          request: () => ({ method: 'GET', path: '/slow', headers: {} }),
        },
      ],
    });
    expect(result.reason).toBe('aborted');
    expect(performance.now() - started).toBeLessThan(10_000);
  });
});
