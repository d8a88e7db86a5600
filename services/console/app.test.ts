import { once } from 'node:events';
import { type AddressInfo, createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../shared/config.js';
import { createLogger } from '../shared/logger.js';
import { createMetrics } from '../shared/metrics.js';
import { createConsoleApp } from './app.js';
import { consoleConfigShape } from './config.js';
import { LabApi } from './lab-api.js';
import { labLink, NO_LAB_REASON } from './lab-link.js';
import { SnapshotHub } from './live.js';
import { ConsoleTraffic } from './traffic.js';

/** A port that was just free: every call to a service there is refused at once. */
async function closedPort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  server.close();
  await once(server, 'close');
  return port;
}
const NOWHERE = `http://127.0.0.1:${await closedPort()}`;

function consoleApp() {
  const config = loadConfig(consoleConfigShape, {
    env: {
      LIMITER_URL: NOWHERE,
      BALANCER_URL: NOWHERE,
      NODE_URLS: `node-1=${NOWHERE}`,
      ADMIN_TOKEN: 'console-test-token',
    },
  });
  const log = createLogger('console', 'silent');
  const api = new LabApi(config);
  const traffic = new ConsoleTraffic({ target: config.limiterUrl, log });
  // This test process has no IPC channel to a lab runner.
  const lab = labLink({ send: undefined } as unknown as NodeJS.Process);
  const hub = new SnapshotHub({
    intervalMs: config.pollInterval,
    read: async () => ({ ...(await api.readAll()), at: 0, traffic: traffic.status(), lab }),
  });
  return createConsoleApp({
    config,
    metrics: createMetrics('console'),
    log,
    api,
    hub,
    traffic,
    lab,
    closing: new Promise(() => {}),
  });
}

const app = consoleApp();
const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
  app.request(path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', host: 'localhost:8090', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });

async function problemOf(response: Response) {
  expect(response.headers.get('content-type')).toBe('application/problem+json');
  return (await response.json()) as { status: number; title: string; detail: string };
}

describe('console controls', () => {
  it('an unknown strategy is a 400 naming the field and the valid ones', async () => {
    const response = await post('/api/strategy', { strategy: 'fastest' });
    expect(response.status).toBe(400);
    const problem = await problemOf(response);
    expect(problem.detail).toMatch(/^strategy: .*"least-connections".*; nothing was changed$/);
  });

  it('an unknown algorithm, an extra field, a body that is not JSON: 400 with the reason', async () => {
    expect((await problemOf(await post('/api/algorithm', { algorithm: 'leaky' }))).detail).toMatch(
      /^algorithm: .*"gcra"/,
    );
    expect((await problemOf(await post('/api/strategy', { strategy: 'random', x: 1 }))).detail).toMatch(
      /Unrecognized key: "x"/,
    );
    expect((await problemOf(await post('/api/strategy', '{strategy'))).detail).toBe(
      'the body must be a JSON object',
    );
  });

  it('node settings are checked as the node checks them; an empty update is refused', async () => {
    expect((await problemOf(await post('/api/nodes/node-1', { loadFactor: 41 }))).detail).toMatch(
      /^loadFactor: Too big: expected number to be <=40/,
    );
    expect((await problemOf(await post('/api/nodes/node-1', { failRate: 'half' }))).detail).toMatch(
      /^failRate: /,
    );
    expect((await problemOf(await post('/api/nodes/node-1', {}))).detail).toMatch(
      /give at least one of loadFactor, latencyMs, failRate/,
    );
  });

  it('an unknown node or actor is a 404 listing the known ones', async () => {
    const node = await post('/api/nodes/node-7', { loadFactor: 1 });
    expect(node.status).toBe(404);
    expect((await problemOf(node)).detail).toBe('no node named node-7 (known: node-1)');
    const actor = await post('/api/traffic/hacker', { running: true });
    expect(actor.status).toBe(404);
    expect((await problemOf(actor)).detail).toBe('no actor named hacker (known: good_user, bad_actor)');
  });

  it('traffic: a rate out of range or a missing running flag is a 400', async () => {
    expect(
      (await problemOf(await post('/api/traffic/good_user', { running: true, rate: 0 }))).detail,
    ).toMatch(/^rate: Too small/);
    expect(
      (await problemOf(await post('/api/traffic/good_user', { running: true, rate: 5000 }))).detail,
    ).toMatch(/^rate: Too big: expected number to be <=1000/);
    expect((await problemOf(await post('/api/traffic/good_user', { rate: 5 }))).detail).toMatch(/^running: /);
  });

  it('kill and revive without the local lab: 409 with the way to do it in compose', async () => {
    const response = await post('/api/nodes/node-1/kill', {});
    expect(response.status).toBe(409);
    expect((await problemOf(response)).detail).toBe(NO_LAB_REASON);
  });

  it('a valid control the service cannot carry out is a 502 naming the service', async () => {
    const response = await post('/api/strategy', { strategy: 'random' });
    expect(response.status).toBe(502);
    expect((await problemOf(response)).detail).toMatch(
      new RegExp(`^balancer did not answer ${NOWHERE}/admin/config: ECONNREFUSED`),
    );
  });

  it('only JSON from this console page is accepted (a cross-site form cannot switch the lab)', async () => {
    const form = await post('/api/strategy', 'strategy=random', {
      'content-type': 'application/x-www-form-urlencoded',
    });
    expect(form.status).toBe(415);
    const foreign = await post('/api/strategy', { strategy: 'random' }, { origin: 'http://evil.example' });
    expect(foreign.status).toBe(403);
    expect((await problemOf(foreign)).detail).toMatch(/only accepted from this console's page/);
    const opaque = await post('/api/strategy', { strategy: 'random' }, { origin: 'null' });
    expect(opaque.status).toBe(403);
    // DNS rebinding: the foreign name now resolves to 127.0.0.1, and Origin matches Host.
    const rebound = await post(
      '/api/strategy',
      { strategy: 'random' },
      { host: 'evil.example:8090', origin: 'http://evil.example:8090' },
    );
    expect(rebound.status).toBe(403);
    expect((await problemOf(rebound)).detail).toMatch(
      /^controls are only accepted at localhost, 127\.0\.0\.1, \[::1\]/,
    );
  });

  it('serves the page, the chart library and its license from this process, and never the token', async () => {
    const page = await (await app.request('/')).text();
    expect(page).toContain('<script src="/vendor/uPlot.iife.min.js"');
    expect(page).not.toContain('console-test-token');
    const script = await app.request('/vendor/uPlot.iife.min.js');
    expect(script.headers.get('content-type')).toMatch(/^text\/javascript/);
    expect(await script.text()).toContain('uPlot');
    expect(await (await app.request('/vendor/uPlot.LICENSE')).text()).toMatch(/MIT License/);
    const snapshot = await (await app.request('/api/snapshot')).text();
    expect(snapshot).not.toContain('console-test-token');
  });
});
