/**
 * The shutdown sequence of `startService` on a real loopback server: drain (health 503,
 * `X-Draining` and `Connection: close` on every response, in-flight ones included),
 * then close (refused), with in-flight requests finishing throughout.
 */
import type { ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, request } from 'undici';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createServiceApp } from './app.js';
import { Drain } from './drain.js';
import { createLogger } from './logger.js';
import { createMetrics } from './metrics.js';
import { type RunningService, startService } from './server.js';

const log = createLogger('test', 'silent');
const agent = new Agent({ keepAliveTimeout: 10_000 });
afterAll(() => agent.close());

/** A service whose data plane holds `/slow` until `release()`, and answers the rest at once. */
async function start(): Promise<{
  service: RunningService;
  release: () => void;
  drain: Drain;
  held: ServerResponse[];
}> {
  const drain = new Drain();
  const metrics = createMetrics('test', { defaultMetrics: false });
  const live = { get: () => ({}), update: z.object({}).strict(), apply: () => {} };
  const app = createServiceApp({ metrics, log, adminToken: undefined, live, drain });
  const held: ServerResponse[] = [];
  const service = await startService({
    host: '127.0.0.1',
    port: 0,
    app,
    log,
    shutdownTimeoutMs: 10_000,
    drain,
    handleSignals: false,
    dataPlane: (req, res) => {
      if (req.url === '/slow') held.push(res);
      else res.end('fast');
    },
  });
  const release = () => {
    for (const res of held.splice(0)) res.end('slow');
  };
  return { service, release, drain, held };
}

const get = (service: RunningService, path: string) =>
  request(`${service.url}${path}`, { dispatcher: agent });

describe('startService: stop(drainDelayMs)', () => {
  it('drains, then closes; every request in flight finishes, and says so', async () => {
    const { service, release, drain, held } = await start();
    expect((await get(service, '/healthz')).statusCode).toBe(200);
    const warm = await get(service, '/fast');
    expect(warm.headers.connection).toBe('keep-alive');
    await warm.body.text();

    const slow = get(service, '/slow');
    await until(() => held.length === 1); // the slow request is in the data plane
    const stopped = service.stop(60_000);
    expect(drain.phase).toBe('draining');

    const health = await get(service, '/healthz');
    expect(health.statusCode).toBe(503);
    expect(await health.body.json()).toEqual({ status: 'draining' });
    expect(health.headers['x-draining']).toBe('1');
    expect(health.headers.connection).toBe('close');
    const fast = await get(service, '/fast');
    expect(await fast.body.text()).toBe('fast'); // still served while draining
    expect(fast.headers['x-draining']).toBe('1');

    drain.skip(); // end the 60 s delay now, as a second signal does
    await until(() => drain.phase === 'closing');
    await expect(get(service, '/fast')).rejects.toThrow(); // the listener is closed
    release();
    const response = await slow;
    expect(response.statusCode).toBe(200);
    expect(await response.body.text()).toBe('slow');
    // It was in flight when the drain began: it closes its connection too.
    expect(response.headers.connection).toBe('close');
    expect(response.headers['x-draining']).toBe('1');
    await stopped;
  });

  it('stop() without a delay closes at once (what tests and DRAIN_DELAY_MS=0 get)', async () => {
    const { service, drain } = await start();
    await service.stop();
    expect(drain.phase).toBe('closing');
    await expect(get(service, '/fast')).rejects.toThrow();
  });
});

async function until(check: () => boolean): Promise<void> {
  for (let i = 0; i < 400 && !check(); i++) await sleep(25);
  expect(check()).toBe(true);
}
