/**
 * The node service as a real process on loopback: simulated overload really queues,
 * failures are real 500s, SIGTERM drains, and bad config stops it with a clear message.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { freePort, putConfig, spawnRole, startRole, stopAll, waitForHttp } from './helpers/processes.js';

afterAll(stopAll);

const post = (url: string, key: string) =>
  fetch(`${url}/data`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ key, value: 'v' }),
  });

/** Resolves with the time (performance.now) at which the response was fully read. */
async function finishedAt(request: Promise<Response>): Promise<{ status: number; at: number }> {
  const response = await request;
  await response.arrayBuffer();
  return { status: response.status, at: performance.now() };
}

describe('node process', () => {
  it('queues concurrent data requests behind the CPU load while /health on another node stays fast', async () => {
    const [slow, idle] = await Promise.all([
      startRole('node', ['--id', 'slow']),
      startRole('node', ['--id', 'idle']),
    ]);
    expect((await putConfig(slow.url, { loadFactor: 29 })).status).toBe(200);
    await (await post(slow.url, 'warm-up')).arrayBuffer(); // let the JIT compile fib first
    // One fib(29) alone, as fast as this machine runs it right now.
    const alone = performance.now();
    await (await post(slow.url, 'alone')).arrayBuffer();
    const oneRequestMs = performance.now() - alone;

    const start = performance.now();
    const first = finishedAt(post(slow.url, 'a'));
    const second = finishedAt(post(slow.url, 'b'));
    const sameNodeHealth = finishedAt(fetch(`${slow.url}/health`));
    const otherNodeHealth = finishedAt(fetch(`${idle.url}/health`));
    const [a, b, health, other] = await Promise.all([first, second, sameNodeHealth, otherNodeHealth]);

    expect([a.status, b.status, health.status, other.status]).toEqual([200, 200, 200, 200]);
    const [early, late] = [a.at, b.at].sort((x, y) => x - y) as [number, number];
    // Served one after the other: the later one ends about one more fib(29) after the
    // earlier (side by side they would end together). Compared with one request alone,
    // not with the first one's time, which also holds connection set-up and scheduling
    // on a loaded machine.
    expect(late - early).toBeGreaterThan(0.5 * oneRequestMs);
    // The other node is not held up at all; this node's /health waits for the loop.
    expect(other.at).toBeLessThan(early);
    console.info(
      `fib(29) queueing: one alone ${oneRequestMs.toFixed(0)} ms; side by side the first done after ${(early - start).toFixed(0)} ms, the second after ${(late - start).toFixed(0)} ms, ` +
        `other node's /health after ${(other.at - start).toFixed(0)} ms`,
    );
  });

  it('answers 500 on data routes with FAIL_RATE=1, while /health stays 200', async () => {
    const node = await startRole('node', [], { FAIL_RATE: '1' });
    const statuses = await Promise.all(
      Array.from({ length: 5 }, (_, i) => post(node.url, `k${i}`).then((r) => r.status)),
    );
    expect(statuses).toEqual([500, 500, 500, 500, 500]);
    expect((await fetch(`${node.url}/health`)).status).toBe(200);
  });

  it('lets a slow request finish with 200 after SIGTERM, then exits 0', async () => {
    const node = await startRole('node', [], { LATENCY_MS: '1500' });
    const slow = post(node.url, 'slow');
    await new Promise((resolve) => setTimeout(resolve, 300));
    const exited = node.stop('SIGTERM');
    const response = await slow;
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ status: 'stored', key: 'slow' });
    expect(await exited).toBe(0);
    expect(node.stdout()).toMatch(/"event":"shutting_down"/);
  });

  it('refuses new connections once stopping', async () => {
    const node = await startRole('node', [], { LATENCY_MS: '1000' });
    const slow = post(node.url, 'slow');
    await new Promise((resolve) => setTimeout(resolve, 200));
    const exited = node.stop('SIGINT');
    await new Promise((resolve) => setTimeout(resolve, 200));
    await expect(fetch(`${node.url}/health`, { headers: { connection: 'close' } })).rejects.toThrow();
    expect((await slow).status).toBe(200);
    expect(await exited).toBe(0);
  });

  it.each([
    ['LOAD_FACTOR', 'heavy', /LOAD_FACTOR \(--load-factor\)/],
    ['FAIL_RATE', '1.5', /FAIL_RATE \(--fail-rate\)/],
    ['PORT', '99999', /PORT \(--port\)/],
    ['ADMIN_TOKEN', 'short', /ADMIN_TOKEN \(--admin-token\): .*at least 8/],
  ])('exits non-zero naming %s when it is invalid', async (name, value, message) => {
    const node = spawnRole('node', [], {
      [name]: value,
      PORT: name === 'PORT' ? value : String(await freePort()),
    });
    expect(await node.exited).toBe(2);
    expect(node.stderr()).toMatch(message);
    expect(node.stderr()).not.toMatch(/at .*\.js:\d+/); // a message, not a stack trace
  });

  it('exits 1 with a clear message when the port is taken', async () => {
    const first = await startRole('node');
    const second = spawnRole('node', ['--port', String(first.port)]);
    expect(await second.exited).toBe(1);
    expect(second.stderr()).toMatch(new RegExp(`port ${first.port} on 127.0.0.1 is already in use`));
  });

  it('serves the original workshop node API end to end', async () => {
    const node = await startRole('node', ['--id', '3']);
    const stored = await post(node.url, 'test');
    expect(stored.headers.get('x-node-id')).toBe('3');
    expect(Number(stored.headers.get('x-active-requests'))).toBeGreaterThanOrEqual(1);
    expect((await fetch(`${node.url}/data/test`)).status).toBe(200);
    const missing = await fetch(`${node.url}/data/nope`);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({ detail: "Key 'nope' not found on Node 3" });
    await waitForHttp(`${node.url}/metrics`);
  });
});
