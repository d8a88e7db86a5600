/**
 * The Redis store with real processes: limiter replicas sharing one real `redis-server`
 * on loopback, a real node behind them.
 *
 * - The lesson, measured: three limiters, one client's traffic spread over them at once.
 *   With the Redis store the client gets its limit in total (fixed window: exactly); with
 *   the memory store each replica grants the whole limit, about three times as much.
 * - Redis taken away mid-run (hung by SIGSTOP, then stopped): `open` admits every request
 *   and counts a store error, `closed` answers 503; no request waits much past the store
 *   timeout; when Redis comes back, limiting resumes without a restart.
 *
 * Bounded load (a few hundred requests). The only timing assertion is the generous
 * "store timeout + 500 ms" bound on how long a request may wait.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AlgorithmName } from '../services/limiter/types.js';
import { awayFromHourBoundary } from './helpers/clock.js';
import { type ServiceProcess, spawnRole, startRole, stopAll } from './helpers/processes.js';
import { type RedisServer, startRedis, stopAllRedis } from './helpers/redis.js';
import { REDIS_SERVER, skipWithout } from './helpers/requires.js';

const withoutRedis = skipWithout('limiter-redis test', [REDIS_SERVER]);

const dir = mkdtempSync(join(tmpdir(), 'limiter-redis-test-'));
const ALGORITHMS: AlgorithmName[] = [
  'fixed-window',
  'token-bucket',
  'gcra',
  'sliding-window-log',
  'sliding-window-counter',
];
const LIMIT = 30;
// One client per algorithm, 30 per hour: nothing refills during the test.
const POLICIES = `
default: { algorithm: token-bucket, limit: 1000, window: 1s }
clients:
${ALGORITHMS.map((a) => `  ${a}-client: { algorithm: ${a}, limit: ${LIMIT}, window: 1h }`).join('\n')}
`;
const policiesFile = join(dir, 'policies.yaml');
writeFileSync(policiesFile, POLICIES);

let node: ServiceProcess;

beforeAll(async () => {
  node = await startRole('node', ['--id', '1'], { LOG_LEVEL: 'warn' });
}, 60_000);
afterAll(async () => {
  await stopAll();
  await stopAllRedis();
});

function limiters(count: number, env: Record<string, string>): Promise<ServiceProcess[]> {
  return Promise.all(
    Array.from({ length: count }, () =>
      startRole('limiter', [], {
        UPSTREAM: node.url,
        RATE_LIMIT_POLICIES: policiesFile,
        LOG_LEVEL: 'info',
        ...env,
      }),
    ),
  );
}

interface Sent {
  status: number;
  ms: number;
}

async function send(base: string, key: string): Promise<Sent> {
  const started = performance.now();
  const response = await fetch(`${base}/`, { headers: { 'x-api-key': key } });
  await response.arrayBuffer();
  return { status: response.status, ms: performance.now() - started };
}

/** `total` requests for `key`, spread round-robin over `targets`, `concurrency` in flight. */
async function spread(targets: ServiceProcess[], key: string, total: number, concurrency = 15) {
  const statuses = new Map<number, number>();
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) {
        const i = next++;
        const target = targets[i % targets.length] as ServiceProcess;
        const { status } = await send(target.url, key);
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
      }
    }),
  );
  return statuses;
}

/** Waits until the current hour has at least `marginMs` left (fixed windows are aligned on the hour). */
describe.skipIf(withoutRedis)('three limiters, one client, traffic spread over all three', () => {
  let redis: RedisServer;
  const figures: Record<string, { redis?: number; memory?: number }> = {};

  beforeAll(async () => {
    redis = await startRedis();
  }, 60_000);
  afterAll(() => {
    process.stdout.write(
      `\nadmitted for one client with limit ${LIMIT}, 150 requests over 3 limiters:\n${Object.entries(figures)
        .map(([a, f]) => `  ${a.padEnd(24)} redis ${f.redis ?? '-'}   memory ${f.memory ?? '-'}`)
        .join('\n')}\n`,
    );
  });

  it('redis store: the three together never admit more than the limit (fixed window: exactly)', async () => {
    // Correctness, not the failure policy: a generous timeout, and `closed`, so a store call
    // slowed by the busy machine shows up as a 503 instead of an admission.
    const replicas = await limiters(3, {
      RATE_LIMIT_STORE: 'redis',
      REDIS_URL: redis.url,
      RATE_LIMIT_STORE_TIMEOUT: '5s',
      RATE_LIMIT_FAIL_MODE: 'closed',
    });
    await awayFromHourBoundary();
    for (const algorithm of ALGORITHMS) {
      const statuses = await spread(replicas, `${algorithm}-client`, 150);
      const admitted = statuses.get(200) ?? 0;
      figures[algorithm] = { ...figures[algorithm], redis: admitted };
      expect([...statuses.keys()].sort(), algorithm).toEqual([200, 429]);
      expect(admitted, algorithm).toBeLessThanOrEqual(LIMIT);
      if (algorithm === 'fixed-window') expect(admitted).toBe(LIMIT);
      // Nothing refills within the test (30 per hour): each grants its whole quota.
      expect(admitted, algorithm).toBeGreaterThanOrEqual(LIMIT - 1);
    }
    // All three asked the same Redis: the keys are there, prefixed.
    for (const replica of replicas) expect(replica.stdout()).toContain('"event":"redis_connected"');
    await Promise.all(replicas.map((r) => r.stop()));
  }, 120_000);

  it('memory store: each limiter grants the whole limit, about three times it in total', async () => {
    const replicas = await limiters(3, { RATE_LIMIT_STORE: 'memory' });
    await awayFromHourBoundary();
    for (const algorithm of ALGORITHMS) {
      const statuses = await spread(replicas, `${algorithm}-client`, 150);
      const admitted = statuses.get(200) ?? 0;
      figures[algorithm] = { ...figures[algorithm], memory: admitted };
      expect(admitted, algorithm).toBeGreaterThan(LIMIT * 2.5);
      expect(admitted, algorithm).toBeLessThanOrEqual(LIMIT * 3);
    }
    await Promise.all(replicas.map((r) => r.stop()));
  }, 120_000);
});

describe.skipIf(withoutRedis)('Redis taken away mid-run', () => {
  const TIMEOUT_MS = 200;
  const MARGIN_MS = 500;
  let redis: RedisServer;
  let open: ServiceProcess;
  let closed: ServiceProcess;

  beforeAll(async () => {
    redis = await startRedis();
    const env = {
      RATE_LIMIT_STORE: 'redis',
      REDIS_URL: redis.url,
      RATE_LIMIT_STORE_TIMEOUT: `${TIMEOUT_MS}ms`,
    };
    open = (await limiters(1, { ...env, RATE_LIMIT_FAIL_MODE: 'open' }))[0] as ServiceProcess;
    closed = (await limiters(1, { ...env, RATE_LIMIT_FAIL_MODE: 'closed' }))[0] as ServiceProcess;
  }, 60_000);

  async function storeErrors(limiter: ServiceProcess): Promise<number> {
    const text = await fetch(`${limiter.url}/metrics`).then((r) => r.text());
    const match = /^lab_ratelimit_store_errors_total\{[^}]*store="redis"[^}]*\} (\d+)/m.exec(text);
    return match ? Number(match[1]) : 0;
  }

  /** `count` requests to `limiter`, 4 at a time; the statuses and the longest wait. */
  async function burst(limiter: ServiceProcess, key: string, count: number) {
    const results: Sent[] = [];
    let next = 0;
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        while (next++ < count) results.push(await send(limiter.url, key));
      }),
    );
    const statuses = new Map<number, number>();
    for (const r of results) statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
    return { statuses, slowest: Math.max(...results.map((r) => r.ms)) };
  }

  /** `key`: a client not refused yet (a refusal is remembered locally until its Retry-After). */
  async function outage(kind: string, key: string) {
    const errorsBefore = await storeErrors(open);
    const a = await burst(open, key, 40);
    const b = await burst(closed, key, 40);
    process.stdout.write(
      `\nRedis ${kind}: open → ${JSON.stringify([...a.statuses])} slowest ${a.slowest.toFixed(0)} ms; ` +
        `closed → ${JSON.stringify([...b.statuses])} slowest ${b.slowest.toFixed(0)} ms (timeout ${TIMEOUT_MS} ms)\n`,
    );
    expect([...a.statuses]).toEqual([[200, 40]]);
    expect([...b.statuses]).toEqual([[503, 40]]);
    expect(a.slowest).toBeLessThan(TIMEOUT_MS + MARGIN_MS);
    expect(b.slowest).toBeLessThan(TIMEOUT_MS + MARGIN_MS);
    expect((await storeErrors(open)) - errorsBefore).toBe(40);
  }

  /** Sends until a decision shows the store is back (a 429 for a client over its quota). */
  async function untilLimited(limiter: ServiceProcess, key: string, within = 20_000) {
    const deadline = Date.now() + within;
    while (Date.now() < deadline) {
      const { status } = await send(limiter.url, key);
      if (status === 429) return;
      await sleep(50);
    }
    throw new Error(`${limiter.url} did not limit ${key} again within ${within} ms`);
  }

  it('open admits and counts, closed answers 503, nobody waits past the timeout; limiting resumes by itself', async () => {
    await awayFromHourBoundary();
    // Healthy: the client's 30 per hour, then 429s, from both (one shared quota). A store
    // call that the busy machine slowed past the timeout is admitted by `open` (and counted)
    // or refused by `closed` with a 503: allowed for, so the check holds on a noisy box.
    const errors0 = await storeErrors(open);
    const healthy = await spread([open, closed], 'fixed-window-client', 40, 4);
    const slowed = (await storeErrors(open)) - errors0;
    expect(healthy.get(200) ?? 0).toBeLessThanOrEqual(LIMIT + slowed);
    expect(healthy.get(200) ?? 0).toBeGreaterThanOrEqual(LIMIT - (healthy.get(503) ?? 0));
    expect(healthy.get(429) ?? 0).toBeGreaterThan(0);

    // 1. Redis hangs (accepts, never answers): every call would wait; the timeout bounds it.
    redis.pause();
    await outage('hung (SIGSTOP)', 'token-bucket-client');
    redis.resume();
    await untilLimited(open, 'token-bucket-client');
    await untilLimited(closed, 'token-bucket-client');

    // 2. Redis stops (connection refused).
    await redis.stop();
    await outage('stopped', 'sliding-window-counter-client');

    // 3. Redis back, empty (no persistence): a fresh quota, then 429s again, no restart.
    await redis.start();
    await untilLimited(open, 'gcra-client');
    await untilLimited(closed, 'gcra-client');
    const errors1 = await storeErrors(open);
    const after = await burst(open, 'sliding-window-log-client', 40);
    const slowedAfter = (await storeErrors(open)) - errors1;
    expect(after.statuses.get(200) ?? 0).toBeLessThanOrEqual(LIMIT + slowedAfter);
    expect(after.statuses.get(429) ?? 0).toBeGreaterThanOrEqual(10 - slowedAfter);

    // Logged once per state change, not per request: down, up, down, up for the two
    // outages (a call slowed past the timeout on the busy machine may add a pair). Each
    // worker thread (WORKERS) has its own connection and circuit, so its own lines; a
    // worker that saw no request during an outage has none.
    for (const limiter of [open, closed]) {
      const byWorker = new Map<number, string[]>();
      for (const line of limiter.stdout().split('\n')) {
        if (!line.includes('"event":"store_')) continue;
        const { event, worker = 0 } = JSON.parse(line) as { event: string; worker?: number };
        byWorker.set(worker, [...(byWorker.get(worker) ?? []), event]);
      }
      const all = [...byWorker.values()].flat();
      expect(all.length, limiter.url).toBeGreaterThanOrEqual(4);
      expect(all.length, limiter.url).toBeLessThanOrEqual(10 * byWorker.size);
      for (const events of byWorker.values()) {
        events.forEach((event, i) => {
          expect(event).toBe(i % 2 === 0 ? 'store_down' : 'store_up');
        });
      }
    }
  }, 120_000);
});

describe.skipIf(withoutRedis)('configuration', () => {
  it('a bad REDIS_URL or store timeout exits 2 naming the variable', async () => {
    for (const [env, pattern] of [
      [{ REDIS_URL: 'http://127.0.0.1:6379' }, /REDIS_URL \(--redis-url\): must be a redis:\/\/ URL/],
      [{ RATE_LIMIT_STORE_TIMEOUT: 'soon' }, /RATE_LIMIT_STORE_TIMEOUT \(--rate-limit-store-timeout\)/],
    ] as const) {
      const limiter = spawnRole('limiter', ['--port', '0'], { RATE_LIMIT_STORE: 'redis', ...env });
      expect(await limiter.exited).toBe(2);
      expect(limiter.stderr()).toMatch(pattern);
    }
  });

  it('a limiter started while Redis is down starts anyway, applies its fail mode, and uses Redis once it is up', async () => {
    const redis = await startRedis();
    await redis.stop();
    const [limiter] = await limiters(1, {
      RATE_LIMIT_STORE: 'redis',
      REDIS_URL: redis.url,
      RATE_LIMIT_FAIL_MODE: 'closed',
    });
    const service = limiter as ServiceProcess;
    expect(service.stdout()).toContain('"event":"redis_unavailable_at_start"');
    expect((await send(service.url, 'gcra-client')).status).toBe(503);
    await redis.start();
    const deadline = Date.now() + 20_000;
    let status = 0;
    while (Date.now() < deadline && status !== 200) {
      status = (await send(service.url, 'gcra-client')).status;
      if (status !== 200) await sleep(100);
    }
    expect(status).toBe(200);
  }, 60_000);
});
