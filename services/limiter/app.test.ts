/**
 * The limiter's data plane and control plane over real loopback sockets: a real
 * `node:http` upstream, the limiter started with `startService` on port 0, and an
 * injected clock in the memory store, so every decision is deterministic.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { type AddressInfo, connect } from 'node:net';
import { Registry } from 'prom-client';
import { parseItem } from 'structured-headers';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../shared/config.js';
import { createLogger } from '../shared/logger.js';
import { createMetrics } from '../shared/metrics.js';
import { type RunningService, startService } from '../shared/server.js';
import { createLimiter } from './app.js';
import { limiterConfigShape } from './config.js';
import { compilePolicies, type PoliciesInput } from './policies.js';
import { createSharedTable, SharedStore } from './stores/shared.js';
import type { Store } from './types.js';

const TOKEN = 'limiter-test-token';
const POLICIES: PoliciesInput = {
  default: { algorithm: 'fixed-window', limit: 3, window: '10s' },
  clients: {
    'good-user': { algorithm: 'token-bucket', limit: 20, window: '1s' },
    'internal-config': { algorithm: 'fixed-window', limit: 1000, window: '60s' },
    partner: { exempt: true },
    'secret-client': { key: 'sk-very-secret-123', algorithm: 'gcra', limit: 2, window: '1s' },
  },
};

let upstream: Server;
let upstreamUrl: string;
const seen: IncomingHttpHeaders[] = [];

beforeAll(async () => {
  upstream = createServer((req, res) => {
    seen.push(req.headers);
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      res.writeHead(req.url === '/missing' ? 404 : 200, {
        'content-type': 'application/json',
        'x-upstream-test': '1',
      });
      res.end(JSON.stringify({ path: req.url, method: req.method, body: Buffer.concat(chunks).toString() }));
    });
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
});
afterAll(async () => {
  upstream.closeAllConnections();
  await new Promise((resolve) => upstream.close(resolve));
});

interface Started {
  url: string;
  clock: { now: number };
  store: Store;
  registry: Registry;
  service: RunningService;
}
const running: Started[] = [];
afterEach(async () => {
  for (const s of running.splice(0)) await s.service.stop();
});

async function start(env: Record<string, string> = {}, store?: Store): Promise<Started> {
  const config = loadConfig(limiterConfigShape, {
    env: { UPSTREAM: upstreamUrl, ADMIN_TOKEN: TOKEN, PORT: '0', ...env },
  });
  const clock = { now: 1_728_000_000_000 };
  const memory = store ?? SharedStore.create({ now: () => clock.now, sweepIntervalMs: 0 });
  const registry = new Registry();
  const metrics = createMetrics('limiter', { registry, defaultMetrics: false });
  const log = createLogger('limiter', 'silent');
  const limiter = createLimiter({
    config,
    policies: compilePolicies(POLICIES, 'test'),
    store: memory,
    metrics,
    log,
  });
  const service = await startService({
    ...config,
    app: limiter.app,
    dataPlane: limiter.dataPlane,
    log,
    handleSignals: false,
    onShutdown: () => limiter.close(),
  });
  const started = { url: service.url, clock, store: memory, registry, service };
  running.push(started);
  return started;
}

const get = (url: string, key?: string, init: RequestInit = {}) =>
  fetch(url, { ...init, headers: { ...(key ? { 'x-api-key': key } : {}), ...(init.headers as object) } });

async function statuses(url: string, n: number, key?: string): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const res = await get(url, key);
    await res.arrayBuffer();
    out.push(res.status);
  }
  return out;
}

const admin = (url: string, body: unknown) =>
  fetch(`${url}/admin/config`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });

describe('limiter: admitted requests', () => {
  it('are proxied with method, path, query and body, and carry RateLimit-Policy and RateLimit', async () => {
    const { url } = await start();
    const res = await get(`${url}/data?x=1`, 'good-user', {
      method: 'POST',
      body: '{"key":"a","value":"b"}',
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ path: '/data?x=1', method: 'POST', body: '{"key":"a","value":"b"}' });
    expect(res.headers.get('x-upstream-test')).toBe('1');
    expect(res.headers.get('ratelimit-policy')).toBe('"good-user";q=20;w=1');
    const [name, params] = parseItem(res.headers.get('ratelimit') as string);
    expect(String(name)).toBe('good-user');
    expect(params.get('r')).toBe(19);
    expect(params.get('t')).toBe(1);
    expect(res.headers.get('x-ratelimit-limit')).toBeNull();
    expect(seen.at(-1)?.['x-forwarded-for']).toBe('127.0.0.1');
  });

  it('pass upstream status codes through (404 stays 404)', async () => {
    const { url } = await start();
    const res = await get(`${url}/missing`, 'good-user');
    expect(res.status).toBe(404);
    expect(res.headers.get('ratelimit')).toMatch(/^"good-user";r=19;t=1$/);
  });

  it('legacy X-RateLimit-* when RATE_LIMIT_LEGACY_HEADERS=true', async () => {
    const { url } = await start({ RATE_LIMIT_LEGACY_HEADERS: 'true' });
    const res = await get(`${url}/`, 'internal-config');
    expect(res.headers.get('x-ratelimit-limit')).toBe('1000');
    expect(res.headers.get('x-ratelimit-remaining')).toBe('999');
    expect(res.headers.get('x-ratelimit-reset')).toBe('60');
  });
});

describe('limiter: rejected requests', () => {
  it('a client over its limit gets 429 problem+json with Retry-After, and is admitted after waiting that long', async () => {
    const { url, clock } = await start();
    clock.now += 4_000; // 4 s into a 10 s window
    expect(await statuses(`${url}/`, 3, 'someone')).toEqual([200, 200, 200]);
    const res = await get(`${url}/`, 'someone');
    expect(res.status).toBe(429);
    expect(res.headers.get('content-type')).toBe('application/problem+json');
    expect(res.headers.get('retry-after')).toBe('6');
    expect(res.headers.get('ratelimit-policy')).toBe('"default";q=3;w=10');
    expect(res.headers.get('ratelimit')).toBe('"default";r=0;t=6');
    expect(await res.json()).toMatchObject({
      status: 429,
      title: 'Too Many Requests',
      policy: 'default',
      retry_after: 6,
      detail: expect.stringContaining('"default"'),
    });
    clock.now += 5_999;
    expect(await statuses(`${url}/`, 1, 'someone')).toEqual([429]);
    clock.now += 1;
    expect(await statuses(`${url}/`, 1, 'someone')).toEqual([200]);
  });

  it('the bad actor is limited while the good user and an exempt partner are not', async () => {
    const { url } = await start();
    const bad = await statuses(`${url}/`, 10, 'bad-actor');
    expect(bad.filter((s) => s === 429)).toHaveLength(7);
    expect(await statuses(`${url}/`, 15, 'good-user')).toEqual(new Array(15).fill(200));
    expect(await statuses(`${url}/`, 50, 'partner')).toEqual(new Array(50).fill(200));
    const res = await get(`${url}/`, 'partner');
    expect(res.headers.get('ratelimit')).toBeNull();
  });

  it('anonymous clients are keyed by address; X-Forwarded-For from an untrusted peer changes nothing', async () => {
    const { url } = await start();
    const spoofed = (n: number) =>
      get(`${url}/`, undefined, { headers: { 'x-forwarded-for': `198.51.100.${n}` } });
    const codes: number[] = [];
    for (let i = 0; i < 5; i++) codes.push((await spoofed(i)).status);
    expect(codes).toEqual([200, 200, 200, 429, 429]);
  });

  it('behind a trusted proxy, X-Forwarded-For tells clients apart', async () => {
    const { url } = await start({ TRUSTED_PROXIES: '127.0.0.1' });
    const from = async (ip: string) =>
      (await get(`${url}/`, undefined, { headers: { 'x-forwarded-for': ip } })).status;
    for (let i = 0; i < 3; i++) expect(await from('198.51.100.1')).toBe(200);
    expect(await from('198.51.100.1')).toBe(429);
    expect(await from('198.51.100.2')).toBe(200);
  });

  it('a 10 KB X-API-Key is handled as an ordinary anonymous key, not a crash', async () => {
    const { url, store } = await start();
    const huge = 'k'.repeat(10_240);
    expect(await statuses(`${url}/`, 4, huge)).toEqual([200, 200, 200, 429]);
    expect(store.trackedKeys()).toBe(1);
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
  });

  it('a rejected POST is answered before its body arrives, the body is dropped unread and the connection stays keep-alive', async () => {
    const { url } = await start();
    const { port } = new URL(url);
    const socket = connect(Number(port), '127.0.0.1');
    let received = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      received += chunk;
    });
    let closed = false;
    socket.on('close', () => {
      closed = true;
    });
    // A status line may follow the previous body without a line break.
    const answers = () => received.match(/HTTP\/1\.1 \d{3}/g) ?? [];
    const until = async (n: number) => {
      while (answers().length < n && !closed) await new Promise((r) => setTimeout(r, 5));
    };
    const post = (body: string) =>
      `POST /data HTTP/1.1\r\nHost: lab\r\nX-API-Key: bad-actor\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`;
    const small = JSON.stringify({ key: 'bad-1', value: 'flood' });
    // Three admitted, then refusals: one with a small body in the same write as its
    // headers, one whose 16 KiB body (under any body limit) is sent only after its 429 came back.
    for (let i = 1; i <= 4; i++) {
      socket.write(post(small) + small);
      await until(i);
    }
    const large = JSON.stringify({ key: 'bad-2', value: 'x'.repeat(16_384) });
    socket.write(post(large));
    await until(5);
    socket.write(large);
    socket.write(`GET /health HTTP/1.1\r\nHost: lab\r\nX-API-Key: bad-actor\r\n\r\n`);
    await until(6);
    socket.end();
    expect(answers()).toEqual([
      'HTTP/1.1 200',
      'HTTP/1.1 200',
      'HTTP/1.1 200',
      'HTTP/1.1 429',
      'HTTP/1.1 429',
      'HTTP/1.1 429',
    ]);
    expect(received).not.toMatch(/connection: close/i);
    expect(closed).toBe(false);
  });

  it('a secret key is never shown: headers and metrics use the client name', async () => {
    const { url, registry } = await start();
    const res = await get(`${url}/`, 'sk-very-secret-123');
    expect(res.headers.get('ratelimit-policy')).toBe('"secret-client";q=2;w=1');
    const text = await registry.metrics();
    expect(text).not.toContain('sk-very-secret');
    expect(text).toContain(
      'lab_ratelimit_decisions_total{client="secret-client",policy="secret-client",algorithm="gcra",decision="allowed",service="limiter"} 1',
    );
  });
});

describe('limiter: control plane', () => {
  it('/healthz and /metrics are answered by the limiter itself, with the lab_ratelimit_* series', async () => {
    const { url } = await start();
    await statuses(`${url}/`, 5, 'bad-actor');
    await statuses(`${url}/`, 1, 'partner');
    expect(await (await fetch(`${url}/healthz`)).json()).toEqual({ status: 'ok' });
    const text = await (await fetch(`${url}/metrics`)).text();
    expect(text).toContain(
      'lab_ratelimit_decisions_total{client="anonymous",policy="default",algorithm="fixed-window",decision="rejected",service="limiter"} 2',
    );
    expect(text).toContain(
      'lab_ratelimit_decisions_total{client="partner",policy="partner",algorithm="exempt",decision="allowed",service="limiter"} 1',
    );
    expect(text).toContain('lab_ratelimit_tracked_keys{service="limiter"} 1'); // the exempt partner is not tracked
    expect(text).toContain(
      'lab_ratelimit_algorithm_info{policy="internal-config",algorithm="fixed-window",service="limiter"} 1',
    );
    expect(text).toMatch(/http_requests_total\{route="\/\*",method="GET",status="429",service="limiter"\} 2/);
    expect(text).not.toContain('bad-actor');
  });

  it('PUT /admin/config reloads policies at once; a bad reload is refused with 400 and the old policies stay', async () => {
    const { url } = await start();
    expect(await statuses(`${url}/`, 4, 'bad-actor')).toEqual([200, 200, 200, 429]);

    const bad = await admin(url, {
      policies: { default: { algorithm: 'leaky-bucket', limit: -1, window: '1s' } },
    });
    expect(bad.status).toBe(400);
    const problem = (await bad.json()) as { error: string; issues: { path: string; message: string }[] };
    expect(problem.error).toMatch(/nothing was changed/);
    expect(problem.issues.map((i) => i.path)).toEqual(['default.algorithm', 'default.limit']);
    expect(await statuses(`${url}/`, 1, 'bad-actor')).toEqual([429]);

    const ok = await admin(url, { policies: { ...POLICIES, clients: { 'bad-actor': { exempt: true } } } });
    expect(ok.status).toBe(200);
    expect(((await ok.json()) as { policies: { clients: object } }).policies.clients).toEqual({
      'bad-actor': { exempt: true },
    });
    expect(await statuses(`${url}/`, 20, 'bad-actor')).toEqual(new Array(20).fill(200));
    const info = await (await fetch(`${url}/metrics`)).text();
    expect(info).toContain(
      'lab_ratelimit_algorithm_info{policy="bad-actor",algorithm="exempt",service="limiter"} 1',
    );
    expect(info).not.toContain('lab_ratelimit_algorithm_info{policy="good-user"');

    expect((await admin(url, { policies: 'nonsense' })).status).toBe(400);
    expect((await admin(url, { strategy: 'random' })).status).toBe(400);
  });

  it('a reload the store cannot keep exactly (a sliding log longer than the shared table holds) is refused with 400', async () => {
    const table = createSharedTable({ maxKeys: 100, logCapacity: 16 });
    const { url } = await start({}, new SharedStore(table, { sweepIntervalMs: 0 }));
    const refused = await admin(url, {
      policies: {
        ...POLICIES,
        clients: { 'bad-actor': { algorithm: 'sliding-window-log', limit: 17, window: '1m' } },
      },
    });
    expect(refused.status).toBe(400);
    const problem = (await refused.json()) as { issues: { path: string; message: string }[] };
    expect(problem.issues.map((i) => i.path)).toEqual(['clients.bad-actor']);
    expect(await statuses(`${url}/`, 4, 'bad-actor')).toEqual([200, 200, 200, 429]); // the old policy stays
    const fits = await admin(url, {
      policies: {
        ...POLICIES,
        clients: { 'bad-actor': { algorithm: 'sliding-window-log', limit: 16, window: '1m' } },
      },
    });
    expect(fits.status).toBe(200);
  });
});

describe('limiter: store failures', () => {
  const broken: Store = {
    kind: 'broken',
    consume: () => Promise.reject(new Error('connection refused')),
    trackedKeys: () => -1,
    clear: () => undefined,
    close: () => undefined,
  };

  it('fail open: admitted without rate-limit fields, counted as a store error', async () => {
    const { url, registry } = await start({}, broken);
    expect(await statuses(`${url}/`, 3, 'bad-actor')).toEqual([200, 200, 200]);
    expect(await registry.metrics()).toContain(
      'lab_ratelimit_store_errors_total{store="broken",service="limiter"} 3',
    );
  });

  it('fail closed: 503 problem, counted, never a crash', async () => {
    const throwing: Store = {
      ...broken,
      consume: () => {
        throw new Error('boom');
      },
    };
    const { url, registry } = await start({ RATE_LIMIT_FAIL_MODE: 'closed' }, throwing);
    const res = await get(`${url}/`, 'bad-actor');
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ status: 503 });
    expect(await registry.metrics()).toContain(
      'lab_ratelimit_store_errors_total{store="broken",service="limiter"} 1',
    );
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
  });
});

describe('limiter: an upstream it cannot reach', () => {
  /** A port nothing listens on. */
  async function deadUrl(): Promise<string> {
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const { port } = probe.address() as AddressInfo;
    await new Promise((resolve) => probe.close(resolve));
    return `http://127.0.0.1:${port}`;
  }

  it('retries with backoff, then answers 503 problem+json naming the cause, counted', async () => {
    const { url, registry } = await start({
      UPSTREAM: await deadUrl(),
      UPSTREAM_RETRIES: '3',
      UPSTREAM_RETRY_BACKOFF: '10ms',
    });
    const res = await get(`${url}/data/k`, 'good-user');
    expect(res.status).toBe(503);
    expect(res.headers.get('content-type')).toBe('application/problem+json');
    expect(res.headers.get('retry-after')).toBe('1');
    expect(res.headers.get('ratelimit-policy')).toBe('"good-user";q=20;w=1');
    const body = (await res.json()) as { status: number; cause: string; tries: number; detail: string };
    expect(body).toMatchObject({ status: 503, title: 'Service Unavailable', cause: 'connect', tries: 4 });
    expect(body.detail).toMatch(/ECONNREFUSED|connect/);
    // A POST never reached the upstream either, so it was retried too (its body unread).
    const post = await get(`${url}/data`, 'good-user', { method: 'POST', body: '{"key":"a","value":"b"}' });
    expect(post.status).toBe(503);
    expect(((await post.json()) as { tries: number }).tries).toBe(4);
    const metrics = await registry.metrics();
    expect(metrics).toContain('lab_ratelimit_upstream_retries_total{error="connect",service="limiter"} 6');
    expect(metrics).toContain('lab_ratelimit_upstream_failures_total{error="connect",service="limiter"} 2');
    expect(metrics).toContain(
      'http_requests_total{route="/*",method="GET",status="503",service="limiter"} 1',
    );
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
  });

  it('UPSTREAM_RETRIES=0 fails at once', async () => {
    const { url, registry } = await start({ UPSTREAM: await deadUrl(), UPSTREAM_RETRIES: '0' });
    const res = await get(`${url}/`, 'good-user');
    expect(res.status).toBe(503);
    expect(((await res.json()) as { tries: number }).tries).toBe(1);
    expect(await registry.metrics()).toContain(
      'lab_ratelimit_upstream_retries_total{error="connect",service="limiter"} 0',
    );
  });

  it('a retry reaches an upstream that came up during the backoff', async () => {
    const target = await deadUrl();
    const { url, registry } = await start({
      UPSTREAM: target,
      UPSTREAM_RETRIES: '4',
      UPSTREAM_RETRY_BACKOFF: '200ms',
    });
    const pending = get(`${url}/late`, 'good-user');
    // The first try has failed (connection refused); the upstream comes up during the
    // backoff (waits of up to 0.2 + 0.4 + 0.8 + 1.6 s are left), and a retry finds it.
    const retried = /lab_ratelimit_upstream_retries_total\{error="connect",service="limiter"\} [1-9]/;
    while (!retried.test(await registry.metrics())) await new Promise((resolve) => setTimeout(resolve, 5));
    const late = createServer((_req, res) => res.end('{"late":true}'));
    await new Promise<void>((resolve) => late.listen(Number(new URL(target).port), '127.0.0.1', resolve));
    const res = await pending;
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ late: true });
    late.closeAllConnections();
    await new Promise((resolve) => late.close(resolve));
  });
});
