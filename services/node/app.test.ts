import type { Hono } from 'hono';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../shared/config.js';
import { createLogger } from '../shared/logger.js';
import { createMetrics } from '../shared/metrics.js';
import { createNodeApp, fib } from './app.js';
import { nodeConfigShape, nodeConfigSources } from './config.js';

const TOKEN = 'node-admin-token';

function build(env: Record<string, string> = {}, random = () => 0.5): Hono {
  const config = loadConfig(nodeConfigShape, {
    env: { NODE_ID: '2', ADMIN_TOKEN: TOKEN, ...env },
    sources: nodeConfigSources,
  });
  const metrics = createMetrics('node', { registry: new Registry(), defaultMetrics: false });
  return createNodeApp({ config, metrics, log: createLogger('node-2', 'silent'), random });
}

const json = (body: unknown, headers: Record<string, string> = {}) => ({
  method: 'POST',
  headers: { 'content-type': 'application/json', ...headers },
  body: typeof body === 'string' ? body : JSON.stringify(body),
});

describe('node routes', () => {
  it('GET / names the node', async () => {
    const response = await build().request('/');
    expect(await response.json()).toEqual({ message: 'Node is running', id: '2' });
  });

  it('GET /health answers ok with its active requests, counting itself', async () => {
    const response = await build().request('/health');
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: 'ok', node_id: '2', active_requests: 1 });
  });

  it('every response carries X-Node-ID and X-Active-Requests, errors included', async () => {
    const app = build();
    for (const [path, init] of [
      ['/', undefined],
      ['/data/missing', undefined],
      ['/data', json({ nope: 1 })],
      ['/nowhere', undefined],
    ] as const) {
      const response = await app.request(path, init);
      expect(response.headers.get('x-node-id'), path).toBe('2');
      expect(response.headers.get('x-active-requests'), path).toBe('1');
    }
  });

  it('stores with POST /data and reads back with GET /data/:key', async () => {
    const app = build();
    const stored = await app.request('/data', json({ key: 'user:1', value: 'alice' }));
    expect(stored.status).toBe(200);
    expect(await stored.json()).toEqual({ status: 'stored', node_id: '2', key: 'user:1', value: 'alice' });
    const read = await app.request('/data/user:1');
    expect(await read.json()).toEqual({ node_id: '2', key: 'user:1', value: 'alice' });
  });

  it('answers 404 naming the node for a missing key', async () => {
    const response = await build().request('/data/ghost');
    expect(response.status).toBe(404);
    expect(await response.json()).toEqual({ detail: "Key 'ghost' not found on Node 2" });
  });

  it.each([
    ['a missing value', { key: 'a' }],
    ['a number for the key', { key: 1, value: 'x' }],
    ['the original bad actor body', { junk: 'data' }],
    ['an empty key', { key: '', value: 'x' }],
  ])('answers 422 with the issues for %s', async (_name, body) => {
    const response = await build().request('/data', json(body));
    expect(response.status).toBe(422);
    const answer = (await response.json()) as { detail?: unknown[]; error?: string; issues?: unknown[] };
    expect(Array.isArray(answer.detail)).toBe(true);
    expect(answer.detail?.length).toBeGreaterThan(0);
  });

  it('answers 422 for a body that is not JSON', async () => {
    const response = await build().request('/data', json('key=a&value=b'));
    expect(response.status).toBe(422);
  });

  it('answers 413 beyond the body limit', async () => {
    const response = await build({ BODY_LIMIT: '1024' }).request(
      '/data',
      json({ key: 'big', value: 'x'.repeat(2048) }, { 'content-length': '2070' }),
    );
    expect(response.status).toBe(413);
  });

  it('GET /stats reports the load knobs and counts', async () => {
    const app = build({ LOAD_FACTOR: '5', LATENCY_MS: '1' });
    await app.request('/');
    const stats = await (await app.request('/stats')).json();
    expect(stats).toMatchObject({
      node_id: '2',
      active_requests: 1,
      load_factor: 5,
      latency_ms: 1,
      requests_total: 2,
    });
  });

  it('keeps at most MAX_KEYS keys, dropping the oldest', async () => {
    const app = build({ MAX_KEYS: '2' });
    for (const key of ['a', 'b', 'c']) await app.request('/data', json({ key, value: key }));
    expect((await app.request('/data/a')).status).toBe(404);
    expect((await app.request('/data/c')).status).toBe(200);
  });
});

describe('simulated overload', () => {
  it('answers data routes 500 with FAIL_RATE, never /health', async () => {
    const app = build({ FAIL_RATE: '0.3' }, () => 0.1);
    expect((await app.request('/data', json({ key: 'k', value: 'v' }))).status).toBe(500);
    expect((await app.request('/health')).status).toBe(200);
    const lucky = build({ FAIL_RATE: '0.3' }, () => 0.9);
    expect((await lucky.request('/data', json({ key: 'k', value: 'v' }))).status).toBe(200);
  });

  it('fib is the naive Fibonacci', () => {
    expect([0, 1, 2, 10, 20].map(fib)).toEqual([0, 1, 1, 55, 6765]);
  });

  it('takes live changes through the admin API and exposes them as metrics', async () => {
    const app = build();
    const response = await app.request('/admin/config', {
      method: 'PUT',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ loadFactor: 12, failRate: 1 }),
    });
    expect(await response.json()).toEqual({ id: '2', loadFactor: 12, latencyMs: 0, failRate: 1 });
    expect((await app.request('/data', json({ key: 'k', value: 'v' }))).status).toBe(500);
    const metrics = await (await app.request('/metrics')).text();
    expect(metrics).toMatch(/^lab_node_load_factor\{service="node"\} 12$/m);
    expect(metrics).toMatch(/^lab_node_active_requests\{service="node"\} 1$/m);
  });

  it('refuses bad admin values and keeps the old ones', async () => {
    const app = build({ LOAD_FACTOR: '3' });
    for (const body of [{ loadFactor: -1 }, { failRate: 2 }, { loadFactor: 'high' }, { cpu: 1 }]) {
      const response = await app.request('/admin/config', {
        method: 'PUT',
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      expect(response.status, JSON.stringify(body)).toBe(400);
    }
    const config = await (
      await app.request('/admin/config', { headers: { authorization: `Bearer ${TOKEN}` } })
    ).json();
    expect(config).toEqual({ id: '2', loadFactor: 3, latencyMs: 0, failRate: 0 });
  });
});
