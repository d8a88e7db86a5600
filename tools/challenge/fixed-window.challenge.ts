/**
 * The workshop challenge (`npm run challenge`): checks a fixed-window implementation
 * against the rules in `rules.ts`. See docs/LAB.md, "The challenge".
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { type AddressInfo, createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sharedStateCodec } from '../../services/limiter/stores/shared-codecs.js';
import { loadImplementation } from './implementation.js';
import { rules } from './rules.js';

const { definition, factory, source } = await loadImplementation();

describe(`fixed window: ${source}`, () => {
  it('builds from { limit: 100, windowMs: 60000, burst: 100 }, its sharedState fitting the memory store', () => {
    factory({ limit: 100, windowMs: 60_000, burst: 100 });
    // Throws, naming the field, when the layout misses a field of the state or has too many.
    sharedStateCodec('fixed-window', definition);
  });
  for (const rule of rules) it(rule.name, () => rule.check(factory));
});

/**
 * Swapped in for real: when checking the registry's entry (no CHALLENGE_IMPL), start the
 * actual limiter from source with a `fixed-window, 100 per 60 s` policy in front of a tiny
 * upstream, and send 101 requests: 100 pass, the 101st is answered 429 with Retry-After.
 */
describe.skipIf(Boolean(process.env.CHALLENGE_IMPL))('fixed window inside the running limiter', () => {
  let upstream: Server;
  let limiter: ChildProcess | undefined;
  let base = '';

  beforeAll(async () => {
    upstream = createServer((_req, res) => res.end('{"ok":true}'));
    upstream.listen(0, '127.0.0.1');
    await once(upstream, 'listening');
    const upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
    const dir = mkdtempSync(join(tmpdir(), 'challenge-'));
    const policies = join(dir, 'policies.yaml');
    writeFileSync(policies, 'default: { algorithm: fixed-window, limit: 100, window: 60s }\n');
    const probe = createNetServer().listen(0, '127.0.0.1');
    await once(probe, 'listening');
    const port = (probe.address() as AddressInfo).port;
    probe.close();
    limiter = spawn(
      process.execPath,
      ['--import', 'tsx', 'services/main.ts', 'limiter', '--port', String(port), '--upstream', upstreamUrl],
      { env: { ...process.env, RATE_LIMIT_POLICIES: policies, LOG_LEVEL: 'error' }, stdio: 'ignore' },
    );
    base = `http://127.0.0.1:${port}`;
    for (let i = 0; i < 150; i++) {
      try {
        if ((await fetch(`${base}/healthz`)).ok) return;
      } catch {
        // not up yet
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error('the limiter did not start');
  }, 30_000);

  afterAll(() => {
    limiter?.kill('SIGTERM');
    upstream?.close();
  });

  it('lets 100 requests through and answers the 101st with 429 and Retry-After', async () => {
    // Stay inside one window: if the minute is about to turn, wait for the next one.
    const intoMinute = Date.now() % 60_000;
    if (intoMinute > 50_000) await new Promise((resolve) => setTimeout(resolve, 60_500 - intoMinute));
    const statuses: number[] = [];
    for (let i = 0; i < 100; i++) {
      const response = await fetch(`${base}/anything`, { headers: { 'x-api-key': 'challenger' } });
      await response.arrayBuffer();
      statuses.push(response.status);
    }
    expect(statuses.filter((s) => s === 200)).toHaveLength(100);
    const refused = await fetch(`${base}/anything`, { headers: { 'x-api-key': 'challenger' } });
    await refused.arrayBuffer();
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(refused.headers.get('ratelimit')).toMatch(/r=0/);
  }, 90_000);
});
