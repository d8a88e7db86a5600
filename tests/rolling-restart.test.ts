/**
 * Rolling restarts and graceful shutdown (issue 9), with real processes on loopback:
 * client → limiter → balancer → three nodes, steady GET traffic (25 req/s over keep-alive)
 * while services are stopped with SIGTERM and started again on the same port.
 *
 * - each node in turn: zero failed requests (the node announces its drain, the balancer
 *   takes it out at once and puts it back after `rise` passed checks);
 * - a node with a long request in flight: the request completes, /health says draining;
 * - the balancer: requests in flight at the SIGTERM complete; requests arriving while it
 *   is down are retried by the limiter or answered 503 problem+json, nothing else;
 * - the limiter: requests in flight at the SIGTERM complete, exit 0.
 *
 * Nothing here asserts a duration: every wait is "until", with generous bounds. The
 * figures (requests, failures, time out of rotation) are printed as a report.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ADMIN_TOKEN,
  freePort,
  putConfig,
  type ServiceProcess,
  spawnRole,
  startRole,
  stopAll,
  waitForHttp,
} from './helpers/processes.js';

const KEY = 'rolling-restart';
const RATE = 25; // requests per second of steady traffic
const NODE_DRAIN_MS = 1500;
const PROXY_DRAIN_MS = 2000;
const SLOW_MS = 1500; // the nodes' latency for the long requests of (c) and (d)
const auth = { authorization: `Bearer ${ADMIN_TOKEN}` };

// ---- a small traffic generator --------------------------------------------------------

interface Result {
  /** performance.now() when the request was sent. */
  sent: number;
  /** Sent again once: its reused keep-alive connection was closed by the server first. */
  resent?: boolean;
  status: number;
  /** The client-side error code when there was no response (ECONNREFUSED, UND_ERR_SOCKET, ...). */
  error?: string;
  body: string;
}

const agent = new Agent({ keepAliveTimeout: 30_000, headersTimeout: 30_000, bodyTimeout: 30_000 });

/**
 * One GET. With `resendClosed`, behaves like a browser (RFC 9112 §9.3.1): an idempotent
 * request whose keep-alive connection the server closed before answering is sent once
 * more. Only the limiter test needs it: the test itself is the limiter's client, and a
 * server closing an idle keep-alive connection always races a client writing on it.
 */
async function send(url: string, path = '/', resendClosed = false): Promise<Result> {
  const sent = performance.now();
  try {
    const response = await request(`${url}${path}`, { dispatcher: agent, headers: { 'x-api-key': KEY } });
    return { sent, status: response.statusCode, body: await response.body.text() };
  } catch (error) {
    const e = error as NodeJS.ErrnoException;
    if (resendClosed && e.code === 'UND_ERR_SOCKET')
      return { ...(await send(url, path)), sent, resent: true };
    return { sent, status: 0, error: e.code ?? e.message, body: '' };
  }
}

/** GET `path` at `rate` per second (not waiting for answers) until `stop()`. */
function steadyTraffic(url: () => string, path = '/', resendClosed = false) {
  const pending = new Set<Promise<void>>();
  const results: Result[] = [];
  const timer = setInterval(() => {
    const p = send(url(), path, resendClosed).then((result) => {
      results.push(result);
      pending.delete(p);
    });
    pending.add(p);
  }, 1000 / RATE);
  return {
    results,
    async stop(): Promise<Result[]> {
      clearInterval(timer);
      while (pending.size > 0) await Promise.all([...pending]);
      return results;
    },
  };
}

/** `status` (or the client error) → count. */
function tally(results: readonly Result[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const r of results) {
    const kind = r.error ?? String(r.status);
    counts[kind] = (counts[kind] ?? 0) + 1;
  }
  return counts;
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await sleep(50);
  }
  throw new Error(`timed out waiting until ${what}`);
}

// ---- the topology ---------------------------------------------------------------------

interface UpstreamState {
  name: string;
  healthy: boolean;
  down_reason: string | null;
  in_flight: number;
  requests: Record<string, number>;
}

const nodes: { id: string; port: number; proc: ServiceProcess }[] = [];
let balancer: ServiceProcess;
let limiter: ServiceProcess;
let balancerPort: number;
let limiterPort: number;
let upstreams: string;
let policies: string;

const nodeEnv = { DRAIN_DELAY_MS: String(NODE_DRAIN_MS), LOG_LEVEL: 'warn' };
const balancerEnv = () => ({
  UPSTREAMS: upstreams,
  LB_HEALTH_INTERVAL: '500ms',
  LB_HEALTH_FALL: '3',
  LB_HEALTH_RISE: '2',
  DRAIN_DELAY_MS: String(PROXY_DRAIN_MS),
  LOG_LEVEL: 'info',
});
const limiterEnv = () => ({
  UPSTREAM: `http://127.0.0.1:${balancerPort}`,
  RATE_LIMIT_POLICIES: policies,
  DRAIN_DELAY_MS: String(PROXY_DRAIN_MS),
  LOG_LEVEL: 'info',
});

function startNode(id: string, port: number): ServiceProcess {
  return spawnRole('node', ['--port', String(port), '--id', id], { ADMIN_TOKEN, ...nodeEnv });
}

async function balancerState(): Promise<UpstreamState[]> {
  const response = await fetch(`${balancer.url}/admin/state`, { headers: auth });
  return ((await response.json()) as { upstreams: UpstreamState[] }).upstreams;
}

async function upMetric(name: string): Promise<string | undefined> {
  const text = await (await fetch(`${balancer.url}/metrics`)).text();
  return new RegExp(`^lab_balancer_upstream_up\\{upstream="${name}"[^}]*\\} (\\d)$`, 'm').exec(text)?.[1];
}

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'rolling-'));
  policies = join(dir, 'policies.yaml');
  writeFileSync(policies, `clients:\n  ${KEY}: { exempt: true }\n`);
  for (const id of ['1', '2', '3']) {
    const port = await freePort();
    nodes.push({ id, port, proc: startNode(id, port) });
  }
  await Promise.all(nodes.map((n) => waitForHttp(`${n.proc.url}/health`, 15_000, n.proc)));
  upstreams = nodes.map((n) => `node-${n.id}=http://127.0.0.1:${n.port}`).join(',');
  balancerPort = await freePort();
  balancer = spawnRole('balancer', ['--port', String(balancerPort)], { ADMIN_TOKEN, ...balancerEnv() });
  await waitForHttp(`${balancer.url}/healthz`, 15_000, balancer);
  limiterPort = await freePort();
  limiter = spawnRole('limiter', ['--port', String(limiterPort)], { ADMIN_TOKEN, ...limiterEnv() });
  await waitForHttp(`${limiter.url}/healthz`, 15_000, limiter);
}, 60_000);

afterAll(async () => {
  await stopAll();
  await agent.close();
});

describe('rolling restarts', () => {
  it('restarts each node in turn under steady traffic with zero failed requests', async () => {
    const traffic = steadyTraffic(() => limiter.url);
    await sleep(500);
    const outMs: Record<string, number> = {};
    for (const node of nodes) {
      const name = `node-${node.id}`;
      const signalled = performance.now();
      const code = await node.proc.stop('SIGTERM');
      expect(code, node.proc.stdout() + node.proc.stderr()).toBe(0);

      // Gone, so certainly out of rotation: taken out by its drain announcement.
      const down = (await balancerState()).find((u) => u.name === name);
      expect(down?.healthy).toBe(false);
      expect(down?.down_reason).toMatch(/draining/);
      expect(await upMetric(name)).toBe('0');

      node.proc = startNode(node.id, node.port);
      await waitForHttp(`${node.proc.url}/health`, 15_000, node.proc);
      await until(`${name} is healthy again`, async () =>
        Boolean((await balancerState()).find((u) => u.name === name)?.healthy),
      );
      outMs[name] = Math.round(performance.now() - signalled);
      expect(await upMetric(name)).toBe('1');
    }
    await sleep(500);
    const results = await traffic.stop();
    const counts = tally(results);
    const failed = results.filter((r) => r.status !== 200);
    const retried = (await balancerState()).reduce((sum, u) => sum + (u.requests.retried ?? 0), 0);
    console.log(
      `rolling restart of ${nodes.length} nodes: ${results.length} requests sent at ${RATE}/s, ` +
        `${nodes.length} restarts, ${failed.length} failed ${JSON.stringify(counts)}; ` +
        `balancer retries ${retried}; time out of rotation (SIGTERM → healthy again, drain ${NODE_DRAIN_MS} ms) ` +
        `${JSON.stringify(outMs)}`,
    );
    expect(failed, JSON.stringify(failed.slice(0, 5))).toEqual([]);
    // The balancer logged why each node left.
    for (const node of nodes) {
      expect(balancer.stdout()).toMatch(
        new RegExp(`"event":"upstream_down","upstream":"node-${node.id}","reason":"draining`),
      );
    }
  }, 120_000);

  it('lets a long request finish 200 after SIGTERM, answers /health 503 while draining, exits 0', async () => {
    const node = await startRole('node', ['--id', 'long'], { LATENCY_MS: '2500', DRAIN_DELAY_MS: '1000' });
    const long = request(`${node.url}/data`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ key: 'long', value: 'v' }),
      dispatcher: agent,
    });
    await until('the long request is in flight', async () => {
      const stats = (await (await fetch(`${node.url}/stats`)).json()) as { active_requests: number };
      return stats.active_requests >= 2; // the long one and this one
    });
    node.proc.kill('SIGTERM');
    await until('the node is draining', async () => node.stdout().includes('"event":"draining"'));

    const health = await request(`${node.url}/health`, { headers: { connection: 'close' } });
    expect(health.statusCode).toBe(503);
    expect(await health.body.json()).toMatchObject({ status: 'draining', node_id: 'long' });
    expect(health.headers['x-draining']).toBe('1');

    const response = await long;
    expect(response.statusCode).toBe(200);
    expect(await response.body.json()).toMatchObject({ status: 'stored', key: 'long' });
    // It was in flight when the drain began: it closes its connection too.
    expect(response.headers.connection).toBe('close');
    expect(response.headers['x-draining']).toBe('1');
    expect(await node.exited).toBe(0);
    expect(node.stdout()).toMatch(/"event":"shutting_down"/);
  }, 60_000);
});

/** Slows every node's data routes and stores the key `slow` on each, for long requests. */
async function slowNodes(latencyMs: number): Promise<void> {
  await Promise.all(
    nodes.map(async (n) => {
      const response = await putConfig(n.proc.url, { latencyMs });
      expect(response.status).toBe(200);
      if (latencyMs === 0) return;
      const stored = await fetch(`${n.proc.url}/data`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ key: 'slow', value: n.id }),
      });
      expect(stored.status).toBe(200);
    }),
  );
}

/** Sends `count` long GETs through the limiter and waits until the balancer has them all in flight. */
async function longRequests(count: number): Promise<Promise<Result>[]> {
  const base = (await balancerState()).reduce((sum, u) => sum + u.in_flight, 0);
  const long = Array.from({ length: count }, () => send(limiter.url, '/data/slow'));
  await until('the long requests are in flight at the balancer', async () => {
    const inFlight = (await balancerState()).reduce((sum, u) => sum + u.in_flight, 0);
    return inFlight - base >= count;
  });
  return long;
}

describe('proxy restarts', () => {
  it('restarts the balancer under traffic: in-flight requests complete, the rest are retried or fail fast with 503', async () => {
    await slowNodes(SLOW_MS);
    const traffic = steadyTraffic(() => limiter.url);
    await sleep(500);
    const long = await longRequests(5);
    const signalled = performance.now();
    const code = await balancer.stop('SIGTERM');
    expect(code, balancer.stdout() + balancer.stderr()).toBe(0);
    const exited = performance.now();
    balancer = spawnRole('balancer', ['--port', String(balancerPort)], { ADMIN_TOKEN, ...balancerEnv() });
    await waitForHttp(`${balancer.url}/healthz`, 15_000, balancer);
    const back = performance.now();
    await sleep(1000);
    const results = await traffic.stop();

    const longResults = await Promise.all(long);
    expect(longResults.map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
    const before = results.filter((r) => r.sent < signalled);
    expect(before.filter((r) => r.status !== 200)).toEqual([]);
    const after = results.filter((r) => r.sent >= signalled);
    const failedFast = after.filter((r) => r.status === 503);
    for (const r of failedFast) {
      expect(JSON.parse(r.body)).toMatchObject({
        status: 503,
        cause: 'connect',
        title: 'Service Unavailable',
      });
    }
    // Nothing else: no hang (client timeout), no reset, no other status.
    const other = after.filter((r) => r.status !== 200 && r.status !== 503);
    expect(other, JSON.stringify(other.slice(0, 5))).toEqual([]);

    const metrics = await (await fetch(`${limiter.url}/metrics`)).text();
    const counter = (name: string) =>
      Number(new RegExp(`^${name}\\{error="connect"[^}]*\\} (\\d+)$`, 'm').exec(metrics)?.[1]);
    const retries = counter('lab_ratelimit_upstream_retries_total');
    const failures = counter('lab_ratelimit_upstream_failures_total');
    expect(failures).toBe(failedFast.length);
    expect(retries).toBeGreaterThanOrEqual(3 * failures); // every failed one was tried 4 times
    expect(limiter.stdout()).toMatch(/"event":"upstream_draining"/);

    // The limiter recovered: every request gets through again.
    const recovered = await Promise.all(Array.from({ length: 20 }, () => send(limiter.url)));
    expect(tally(recovered)).toEqual({ 200: 20 });
    console.log(
      `balancer restart: ${results.length} requests sent at ${RATE}/s + 5 long (${SLOW_MS} ms) in flight at the SIGTERM ` +
        `(all 200); after the SIGTERM ${after.length}: ${JSON.stringify(tally(after))}; limiter retries ${retries}, ` +
        `failed fast ${failures}; SIGTERM → exit ${Math.round(exited - signalled)} ms (drain ${PROXY_DRAIN_MS} ms), ` +
        `exit → listening again ${Math.round(back - exited)} ms`,
    );
  }, 90_000);

  it('restarts the limiter under traffic: in-flight requests complete, it exits 0 and serves again', async () => {
    const traffic = steadyTraffic(() => limiter.url, '/', true);
    await sleep(500);
    const long = await longRequests(5);
    const signalled = performance.now();
    const code = await limiter.stop('SIGTERM');
    expect(code, limiter.stdout() + limiter.stderr()).toBe(0);
    const exited = performance.now();
    limiter = spawnRole('limiter', ['--port', String(limiterPort)], { ADMIN_TOKEN, ...limiterEnv() });
    await waitForHttp(`${limiter.url}/healthz`, 15_000, limiter);
    await sleep(500);
    const results = await traffic.stop();

    expect((await Promise.all(long)).map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
    const before = results.filter((r) => r.sent < signalled);
    expect(before.filter((r) => r.status !== 200)).toEqual([]);
    const after = results.filter((r) => r.sent >= signalled);
    // While it is down the client's connections are refused, or reset when one was still
    // in the listen backlog (or being written on) as the listener closed: nothing hangs.
    const other = after.filter(
      (r) => r.status !== 200 && r.error !== 'ECONNREFUSED' && r.error !== 'ECONNRESET',
    );
    const resent = results.filter((r) => r.resent).length;
    const recovered = await Promise.all(Array.from({ length: 20 }, () => send(limiter.url)));
    expect(tally(recovered)).toEqual({ 200: 20 });
    console.log(
      `limiter restart: ${results.length} requests sent at ${RATE}/s + 5 long in flight at the SIGTERM (all 200); ` +
        `after the SIGTERM ${after.length}: ${JSON.stringify(tally(after))}; ` +
        `resent by the client after the limiter closed its idle keep-alive connection: ${resent}; ` +
        `SIGTERM → exit ${Math.round(exited - signalled)} ms (drain ${PROXY_DRAIN_MS} ms)`,
    );
    expect(other, JSON.stringify(other)).toEqual([]);
    await slowNodes(0);
  }, 90_000);
});
