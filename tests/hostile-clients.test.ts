/**
 * Hostile clients against every service as a real process on loopback: slow-drip
 * headers and bodies that never finish (cut by HEADERS_TIMEOUT_MS / REQUEST_TIMEOUT_MS,
 * set short here), while slow *answers* and idle keep-alive connections are left alone;
 * and a flood of distinct client keys at the limiter (its store stays at its cap, memory
 * stays bounded; the figures are printed).
 *
 * No timing assertions: a cut connection is awaited with a generous deadline, far below
 * the time the slow client itself would take.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Pool } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectStillServing, metricValue, nodeStats, sendRaw, type Target } from './helpers/hostile.js';
import { putConfig, type ServiceProcess, spawnRole, startRole, stopAll } from './helpers/processes.js';

const HEADERS_TIMEOUT_MS = 500;
const REQUEST_TIMEOUT_MS = 1_500;
const timeouts = {
  HEADERS_TIMEOUT_MS: String(HEADERS_TIMEOUT_MS),
  REQUEST_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS),
  LOG_LEVEL: 'error',
};

const dir = mkdtempSync(join(tmpdir(), 'hostile-clients-'));
const generous = join(dir, 'generous.yaml');
writeFileSync(generous, 'default: { algorithm: token-bucket, limit: 100000, window: 1s }\n');

let node: ServiceProcess;
let balancer: ServiceProcess;
let limiter: ServiceProcess;
let targets: Target[];

beforeAll(async () => {
  node = await startRole('node', ['--id', 'slow'], timeouts);
  balancer = await startRole('balancer', [], { ...timeouts, UPSTREAMS: node.url });
  limiter = await startRole('limiter', [], {
    ...timeouts,
    UPSTREAM: balancer.url,
    RATE_LIMIT_POLICIES: generous,
  });
  targets = [
    { name: 'node', service: node, health: '/health' },
    { name: 'balancer', service: balancer, health: '/healthz' },
    { name: 'limiter', service: limiter, health: '/healthz' },
  ];
}, 120_000);
afterAll(stopAll);

/** Waits until the node is handling nothing but the `/stats` request asking. */
async function nodeIdle(deadlineMs = 10_000): Promise<number> {
  const deadline = Date.now() + deadlineMs;
  let active = -1;
  while (Date.now() < deadline) {
    active = (await nodeStats(node)).active_requests;
    if (active === 1) return active;
    await sleep(100);
  }
  return active;
}

describe(`slow clients are cut (HEADERS_TIMEOUT_MS=${HEADERS_TIMEOUT_MS}, REQUEST_TIMEOUT_MS=${REQUEST_TIMEOUT_MS})`, () => {
  // 240 bytes at one per 100 ms would take 24 s: the server must cut it long before.
  const dripped = `GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: ${'a'.repeat(200)}\r\n\r\n`;

  it('a client dripping its headers a byte at a time gets 408 and the connection closed', async () => {
    for (const target of targets) {
      const answer = await sendRaw(target.service.port, dripped, { dripMs: 100, timeoutMs: 15_000 });
      expect(answer.closed, `${target.name} still held the connection after ${answer.ms} ms`).toBe(true);
      expect(answer.statuses, target.name).toEqual([408]);
      await expectStillServing(target, 'a slow-drip client');
    }
  });

  it('40 slow-drip clients at once: all cut, and legitimate requests are served meanwhile', async () => {
    for (const target of targets) {
      const slow = Array.from({ length: 40 }, () =>
        sendRaw(target.service.port, dripped, { dripMs: 100, timeoutMs: 15_000 }),
      );
      await expectStillServing(target, 'while 40 slow-drip clients hold connections');
      const answers = await Promise.all(slow);
      expect(
        answers.filter((a) => !a.closed).length,
        `${target.name}: connections still held by slow clients`,
      ).toBe(0);
      expect(answers.every((a) => a.statuses.length === 1 && a.statuses[0] === 408)).toBe(true);
      await expectStillServing(target, '40 slow-drip clients');
    }
  });

  it('a body that never finishes gets 408; behind a proxy the node’s request is released too', async () => {
    for (const target of targets) {
      const answer = await sendRaw(
        target.service.port,
        'POST /data HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"key":',
        { timeoutMs: 15_000 },
      );
      expect(answer.closed, `${target.name} still held the connection`).toBe(true);
      // Behind a proxy the node, with the same timeout, may give up first: the proxy relays
      // the node's 408, then its own timer writes its own 408 as it closes. 408s only.
      expect(answer.statuses.length, target.name).toBeGreaterThanOrEqual(1);
      expect(new Set(answer.statuses), target.name).toEqual(new Set([408]));
      expect(await nodeIdle(), `${target.name}: the node still works on the abandoned request`).toBe(1);
      await expectStillServing(target, 'a body that never finishes');
    }
  });

  it('a slow answer is not cut: the timeouts bound receiving the request, never the response', async () => {
    const slowAnswerMs = REQUEST_TIMEOUT_MS + 1_000;
    expect((await putConfig(node.url, { latencyMs: slowAnswerMs })).status).toBe(200);
    try {
      for (const target of targets) {
        const response = await fetch(`${target.service.url}/data`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ key: `slow-${target.name}`, value: 'v' }),
        });
        expect(response.status, `${target.name}: ${await response.text()}`).toBe(200);
      }
    } finally {
      expect((await putConfig(node.url, { latencyMs: 0 })).status).toBe(200);
    }
  });

  it('an idle keep-alive connection outlives both timeouts and serves its next request', async () => {
    for (const target of targets) {
      const pool = new Pool(target.service.url, { connections: 1, keepAliveTimeout: 30_000 });
      try {
        const first = await pool.request({ path: target.health, method: 'GET' });
        await first.body.dump();
        await sleep(REQUEST_TIMEOUT_MS + HEADERS_TIMEOUT_MS);
        const second = await pool.request({ path: target.health, method: 'GET' });
        await second.body.dump();
        expect([first.statusCode, second.statusCode], target.name).toEqual([200, 200]);
        const stats = (pool as unknown as { stats: { connected: number } }).stats;
        expect(stats.connected, `${target.name}: the idle connection was closed`).toBe(1);
      } finally {
        await pool.close();
      }
    }
  });

  it('a headers timeout longer than the request timeout, or a bad value, exits 2 naming the variable', async () => {
    const crossed = spawnRole('node', ['--port', '0'], {
      HEADERS_TIMEOUT_MS: '5000',
      REQUEST_TIMEOUT_MS: '1000',
    });
    expect(await crossed.exited).toBe(2);
    expect(crossed.stderr()).toMatch(
      /HEADERS_TIMEOUT_MS \(5000\) must not exceed REQUEST_TIMEOUT_MS \(1000\)/,
    );
    const bad = spawnRole('limiter', ['--port', '0'], { REQUEST_TIMEOUT_MS: 'soon' });
    expect(await bad.exited).toBe(2);
    expect(bad.stderr()).toMatch(/REQUEST_TIMEOUT_MS \(--request-timeout-ms\)/);
  });
});

describe('a flood of distinct client keys at the limiter', () => {
  const CAP = 2_000;
  const DISTINCT = 20_000;
  let keyed: ServiceProcess;

  beforeAll(async () => {
    // Straight to the node: what is measured is the limiter's store, not the proxy chain.
    keyed = await startRole('limiter', [], {
      UPSTREAM: node.url,
      RATE_LIMIT_MAX_KEYS: String(CAP),
      LOG_LEVEL: 'error',
    });
  }, 60_000);

  async function memory() {
    const text = await (await fetch(`${keyed.url}/metrics`)).text();
    return {
      tracked: metricValue(text, 'lab_ratelimit_tracked_keys'),
      rssMb: metricValue(text, 'process_resident_memory_bytes') / 2 ** 20,
      heapMb: metricValue(text, 'nodejs_heap_size_used_bytes') / 2 ** 20,
    };
  }

  /** Sends one request per key with `concurrency` at a time; counts statuses. */
  async function sendKeys(keys: (i: number) => string, count: number, concurrency = 32) {
    const pool = new Pool(keyed.url, { connections: concurrency });
    const statuses = new Map<number, number>();
    let next = 0;
    try {
      await Promise.all(
        Array.from({ length: concurrency }, async () => {
          while (next < count) {
            const i = next++;
            const { statusCode, body } = await pool.request({
              path: '/health',
              method: 'GET',
              headers: { 'x-api-key': keys(i) },
            });
            await body.dump();
            statuses.set(statusCode, (statuses.get(statusCode) ?? 0) + 1);
          }
        }),
      );
    } finally {
      await pool.close();
    }
    return statuses;
  }

  it(`${DISTINCT} distinct API keys (10× the store's cap): the store stays at its cap, memory bounded`, async () => {
    await sendKeys((i) => `warm-${i}`, 1_000);
    const before = await memory();
    const statuses = await sendKeys((i) => `distinct-${i}`, DISTINCT);
    const after = await memory();
    console.log(
      `[hostile] limiter, ${DISTINCT} distinct keys, RATE_LIMIT_MAX_KEYS=${CAP}: tracked ${after.tracked}; ` +
        `RSS ${before.rssMb.toFixed(1)} → ${after.rssMb.toFixed(1)} MB; heap used ${before.heapMb.toFixed(1)} → ${after.heapMb.toFixed(1)} MB`,
    );
    expect(statuses.get(200), JSON.stringify([...statuses])).toBe(DISTINCT); // each key's first request is allowed
    expect(after.tracked).toBe(CAP);
    // Generous bounds: a leak of even 1 KB per key would be 20 MB of heap.
    expect(after.heapMb - before.heapMb).toBeLessThan(64);
    expect(after.rssMb).toBeLessThan(400);
    await expectStillServing({ name: 'limiter (keys)', service: keyed, health: '/healthz' }, 'a key flood');
  });

  it('4 KiB keys: hashed, never stored raw, the store at its cap', async () => {
    const before = await memory();
    const long = 'k'.repeat(4_096);
    const statuses = await sendKeys((i) => `${long}-${i}`, 4_000);
    const after = await memory();
    console.log(
      `[hostile] limiter, 4,000 keys of 4 KiB: tracked ${after.tracked}; RSS ${before.rssMb.toFixed(1)} → ${after.rssMb.toFixed(1)} MB; ` +
        `heap used ${before.heapMb.toFixed(1)} → ${after.heapMb.toFixed(1)} MB`,
    );
    expect(statuses.get(200)).toBe(4_000);
    expect(after.tracked).toBe(CAP);
    // 2,000 raw 4 KiB keys would be 8 MB (16 MB as UTF-16) on the heap.
    expect(after.heapMb - before.heapMb).toBeLessThan(64);
  });
});
