/**
 * `WORKERS=N` (services/shared/workers.ts): the limiter and the balancer as real processes
 * serving one port from N worker threads, and still one service:
 * - several workers answer (the `worker` field of their `config_changed` logs, over
 *   fresh connections, which the kernel spreads over the threads' sockets);
 * - a `PUT /admin/config` answered by one worker is what every worker serves next;
 * - `/metrics` and `/admin/state` count every worker's requests, exactly;
 * - one client's quota is one quota across the workers (the shared memory table);
 * - SIGTERM drains every worker and exits 0; bad config exits 2 before any worker runs;
 *   a crashed worker stops the rest and exits 1;
 * - `WORKERS=1` is the single-threaded service of before.
 * Every request opens its own connection (`agent: false`, `Connection: close`), so they
 * land on the workers as the kernel decides. No timing assertions.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { awayFromHourBoundary } from './helpers/clock.js';
import { type Answer, type SendInit, send } from './helpers/http.js';
import {
  ADMIN_TOKEN,
  freePort,
  type ServiceProcess,
  spawnRole,
  startRole,
  stopAll,
} from './helpers/processes.js';

/** One request on a connection of its own. */
const fresh = (url: string, init: Omit<SendInit, 'agent'> = {}) =>
  send(url, { ...init, headers: { connection: 'close', ...init.headers }, agent: false });

const admin = { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' };
const put = (service: ServiceProcess, update: unknown) =>
  fresh(`${service.url}/admin/config`, { method: 'PUT', headers: admin, body: JSON.stringify(update) });

/** `count` requests, `concurrency` at a time, each on a fresh connection. */
async function many(count: number, send: (i: number) => Promise<Answer>, concurrency = 8): Promise<Answer[]> {
  const answers: Answer[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) answers.push(await send(next++));
    }),
  );
  return answers;
}

type LogLine = { event: string; worker?: number; [field: string]: unknown };
const logLines = (service: ServiceProcess): LogLine[] =>
  service
    .stdout()
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as LogLine);

/** Resolves once the service logged a line matching `match`; fails if it exits first or after `timeoutMs`. */
function waitForLog(service: ServiceProcess, match: (line: LogLine) => boolean, timeoutMs = 30_000) {
  return new Promise<LogLine>((resolve, reject) => {
    const check = () => {
      const found = logLines(service).find(match);
      if (!found) return false;
      done();
      resolve(found);
      return true;
    };
    const timer = setTimeout(() => {
      done();
      reject(new Error(`no such log line within ${timeoutMs} ms:\n${service.stdout()}${service.stderr()}`));
    }, timeoutMs);
    const onExit = () => {
      if (check()) return;
      done();
      reject(
        new Error(
          `exited (${service.proc.exitCode ?? service.proc.signalCode}) before logging it:\n${service.stdout()}${service.stderr()}`,
        ),
      );
    };
    const done = () => {
      clearTimeout(timer);
      service.proc.stdout?.off('data', check);
      service.proc.off('exit', onExit);
    };
    service.proc.stdout?.on('data', check);
    service.proc.once('exit', onExit);
    check();
  });
}

/** Starts `role` with `workers` threads on a free port; resolves once every worker listens. */
async function startWorkers(role: string, workers: number, env: Record<string, string> = {}) {
  const port = await freePort();
  const service = spawnRole(role, ['--port', String(port)], {
    ADMIN_TOKEN,
    WORKERS: String(workers),
    ...env,
  });
  await waitForLog(service, (line) => line.event === (workers > 1 ? 'workers_listening' : 'listening'));
  // The workers' own lines reach stdout through the primary, perhaps after its own.
  await waitForLog(
    service,
    () => logLines(service).filter((l) => l.event === 'listening').length === workers,
  );
  return service;
}

/** Sum of the samples of `name` whose labels include `labels`. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const have = Object.fromEntries(
      [...(match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]]),
    );
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) sum += Number(match[3]);
  }
  return sum;
}

const scrape = async (service: ServiceProcess) => {
  const answer = await fresh(`${service.url}/metrics`);
  expect(answer.status).toBe(200);
  return answer.body;
};

/** Sends no-op config updates on fresh connections until every worker has answered one. */
async function workersAnswering(
  service: ServiceProcess,
  update: unknown,
  workers: number,
): Promise<Set<number>> {
  const seen = () =>
    new Set(
      logLines(service)
        .filter((l) => l.event === 'config_changed' && l.worker !== undefined)
        .map((l) => l.worker as number),
    );
  for (let i = 0; i < 400 && seen().size < workers; i++)
    expect((await put(service, update)).status).toBe(200);
  // The receiving worker logs before it answers; its line reaches stdout through the primary.
  await waitForLog(service, () => seen().size >= workers, 10_000).catch(() => {});
  return seen();
}

const dir = mkdtempSync(join(tmpdir(), 'workers-test-'));
const POLICIES = join(dir, 'policies.yaml');
writeFileSync(
  POLICIES,
  `
default: { algorithm: token-bucket, limit: 100000, window: 1s }
clients:
  quota-client: { algorithm: token-bucket, limit: 20, window: 1h }
  window-client: { algorithm: fixed-window, limit: 15, window: 1h }
`,
);

let node: ServiceProcess;
beforeAll(async () => {
  node = await startRole('node', ['--id', '1'], { LOG_LEVEL: 'warn' });
}, 60_000);
afterAll(stopAll);

describe('balancer, WORKERS=2', () => {
  let balancer: ServiceProcess;
  beforeAll(async () => {
    balancer = await startWorkers('balancer', 2, { UPSTREAMS: `node-1=${node.url}` });
  }, 60_000);

  it('serves one port from two threads, every log line naming its worker', async () => {
    const listening = logLines(balancer).filter((l) => l.event === 'listening');
    expect(listening.map((l) => l.worker).sort()).toEqual([1, 2]);
    expect(new Set(listening.map((l) => l.url))).toEqual(new Set([balancer.url]));
    expect(logLines(balancer).filter((l) => l.event === 'workers_listening')).toHaveLength(1);
    expect(await workersAnswering(balancer, { strategy: 'round-robin' }, 2)).toEqual(new Set([1, 2]));
  });

  it('a PUT /admin/config answered by one worker is what every worker serves next', async () => {
    for (const strategy of ['least-connections', 'power-of-two', 'random']) {
      const answer = await put(balancer, { strategy });
      expect(answer.status).toBe(200);
      const seen = await many(30, () => fresh(`${balancer.url}/admin/config`, { headers: admin }));
      expect(new Set(seen.map((a) => (JSON.parse(a.body) as { strategy: string }).strategy))).toEqual(
        new Set([strategy]),
      );
    }
    const metrics = await scrape(balancer);
    expect(sample(metrics, 'lab_balancer_strategy_info', { strategy: 'random' })).toBe(1);
    expect(sample(metrics, 'lab_balancer_strategy_info')).toBe(1);
    // One change mark per change, not one per worker.
    expect(
      sample(metrics, 'lab_config_change_timestamp_seconds', { from: 'power-of-two', to: 'random' }),
    ).toBeGreaterThan(0);
    expect(
      metrics.match(
        /^lab_config_change_timestamp_seconds\{setting="strategy",from="power-of-two",to="random"/gm,
      ),
    ).toHaveLength(1);
  });

  it('/metrics and /admin/state count every worker: K requests, exactly K more', async () => {
    const K = 60;
    const before = await scrape(balancer);
    const stateBefore = JSON.parse((await fresh(`${balancer.url}/admin/state`, { headers: admin })).body);
    const answers = await many(K, () => fresh(`${balancer.url}/health`));
    expect(answers.every((a) => a.status === 200)).toBe(true);
    const after = await scrape(balancer);
    const routed = { route: '/*', service: 'balancer' };
    expect(sample(after, 'http_requests_total', routed) - sample(before, 'http_requests_total', routed)).toBe(
      K,
    );
    const ok = { upstream: 'node-1', outcome: 'ok' };
    expect(
      sample(after, 'lab_balancer_upstream_requests_total', ok) -
        sample(before, 'lab_balancer_upstream_requests_total', ok),
    ).toBe(K);
    expect(sample(after, 'lab_balancer_upstream_duration_seconds_count', { upstream: 'node-1' })).toBe(
      sample(after, 'lab_balancer_upstream_requests_total', ok),
    );
    // Process-wide figures once, not once per thread; gauges every worker holds, once.
    expect(after.match(/^process_resident_memory_bytes/gm)).toHaveLength(1);
    expect(sample(after, 'lab_balancer_upstream_up', { upstream: 'node-1' })).toBe(1);
    expect(sample(after, 'lab_config_generation')).toBe(sample(before, 'lab_config_generation'));

    const state = JSON.parse((await fresh(`${balancer.url}/admin/state`, { headers: admin })).body);
    expect(state).toMatchObject({
      workers: 2,
      healthy: 1,
      upstreams: [{ name: 'node-1', healthy: true, healthy_workers: 2, in_flight: 0 }],
    });
    expect(state.upstreams[0].requests.ok - stateBefore.upstreams[0].requests.ok).toBe(K);
  });

  it('SIGTERM drains every worker (health 503, X-Draining), then exits 0', async () => {
    const draining = await startWorkers('balancer', 2, {
      UPSTREAMS: `node-1=${node.url}`,
      DRAIN_DELAY_MS: '20000',
    });
    draining.proc.kill('SIGTERM');
    await waitForLog(draining, () => logLines(draining).filter((l) => l.event === 'draining').length === 2);
    const health = await many(12, () => fresh(`${draining.url}/healthz`), 4);
    expect(health.map((a) => [a.status, a.headers['x-draining']])).toEqual(Array(12).fill([503, '1']));
    draining.proc.kill('SIGTERM'); // a second signal cuts the delay short, as for one process
    expect(await draining.exited).toBe(0);
    const stopped = logLines(draining).filter((l) => l.event === 'stopped');
    expect(stopped.map((l) => l.worker).sort()).toEqual([1, 2]);
  });
});

describe.each([2, 4])('limiter, WORKERS=%i', (workers) => {
  let limiter: ServiceProcess;
  beforeAll(async () => {
    const balancer = await startRole('balancer', [], {
      UPSTREAMS: `node-1=${node.url}`,
      WORKERS: '1',
      LOG_LEVEL: 'warn',
    });
    limiter = await startWorkers('limiter', workers, {
      UPSTREAM: balancer.url,
      RATE_LIMIT_POLICIES: POLICIES,
    });
  }, 60_000);

  it('serves one port from every thread', async () => {
    const listening = logLines(limiter).filter((l) => l.event === 'listening');
    expect(listening.map((l) => l.worker).sort()).toEqual(Array.from({ length: workers }, (_, i) => i + 1));
    const policies = JSON.parse(
      (await fresh(`${limiter.url}/admin/config`, { headers: admin })).body,
    ).policies;
    const seen = await workersAnswering(limiter, { policies }, workers);
    expect(seen.size).toBe(workers);
  });

  it('one client, one quota: exactly the limit admitted over many connections', async () => {
    const answers = await many(200, () =>
      fresh(`${limiter.url}/health`, { headers: { 'x-api-key': 'quota-client' } }),
    );
    const statuses = answers.map((a) => a.status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(20);
    expect(statuses.filter((s) => s === 429)).toHaveLength(180);
    const metrics = await scrape(limiter);
    const decisions = (decision: string) =>
      sample(metrics, 'lab_ratelimit_decisions_total', { client: 'quota-client', decision });
    expect([decisions('allowed'), decisions('rejected')]).toEqual([20, 180]);
    expect(sample(metrics, 'http_requests_total', { route: '/*', status: '429' })).toBe(180);
  });

  it('a policy PUT on one worker is what every worker applies next', async () => {
    await awayFromHourBoundary(); // the fixed window below resets on the hour
    const config = JSON.parse((await fresh(`${limiter.url}/admin/config`, { headers: admin })).body);
    const policies = {
      ...config.policies,
      clients: {
        ...config.policies.clients,
        'window-client': { algorithm: 'fixed-window', limit: 7, window: '1h' },
      },
    };
    expect((await put(limiter, { policies })).status).toBe(200);
    const answers = await many(40, () =>
      fresh(`${limiter.url}/health`, { headers: { 'x-api-key': 'window-client' } }),
    );
    expect(new Set(answers.map((a) => a.headers['ratelimit-policy']))).toEqual(
      new Set(['"window-client";q=7;w=3600']),
    );
    expect(answers.filter((a) => a.status === 200)).toHaveLength(7);
  });
});

describe('start-up', () => {
  it('a bad WORKERS exits 2 naming the variable, before anything listens', async () => {
    for (const value of ['0', 'many', '65']) {
      const service = spawnRole('limiter', ['--port', String(await freePort())], { WORKERS: value });
      expect(await service.exited).toBe(2);
      expect(service.stderr()).toMatch(/^limiter: invalid configuration:\n {2}WORKERS \(--workers\): /);
    }
  });

  it('bad config is refused once by the primary (exit 2); a taken port exits 1 as before', async () => {
    const bad = spawnRole('balancer', ['--port', String(await freePort())], {
      WORKERS: '2',
      LB_STRATEGY: 'nope',
    });
    expect(await bad.exited).toBe(2);
    expect(bad.stderr().match(/LB_STRATEGY \(--strategy\)/g)).toHaveLength(1);
    expect(logLines(bad).filter((l) => l.event === 'listening')).toHaveLength(0);

    const taken = spawnRole('balancer', ['--port', String(node.port)], { WORKERS: '2', UPSTREAMS: node.url });
    expect(await taken.exited).toBe(1);
    expect(taken.stderr()).toBe(
      `balancer: port ${node.port} on 127.0.0.1 is already in use: stop whatever holds it, or choose another with PORT / --port\n`,
    );
  });

  it('a crashed worker is logged, the others drain and stop, and the process exits 1', async () => {
    const proc = spawn(process.execPath, ['tests/helpers/crashing-workers.mjs'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    proc.stdout.on('data', (chunk) => {
      out += chunk;
    });
    const [code] = await once(proc, 'exit');
    expect(code).toBe(1);
    const events = out
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as LogLine);
    expect(events.find((l) => l.event === 'worker_failed')).toMatchObject({
      failed_worker: 2,
      error: { message: 'worker 2 crashed on purpose' },
    });
    expect(events.filter((l) => l.event === 'stopped').map((l) => l.worker)).toEqual([1]);
  });

  it('WORKERS=1 is one thread, as before: no workers, no worker field', async () => {
    const single = await startWorkers('balancer', 1, { UPSTREAMS: `node-1=${node.url}` });
    expect(logLines(single).some((l) => 'worker' in l || l.event === 'workers_listening')).toBe(false);
    const state = JSON.parse((await fresh(`${single.url}/admin/state`, { headers: admin })).body);
    expect(state).not.toHaveProperty('workers');
    expect(state.upstreams[0]).not.toHaveProperty('healthy_workers');
    expect(await single.stop()).toBe(0);
  });
});
