/**
 * The limiter as a real process in front of a real balancer and real nodes on loopback:
 * a bad client flooding while a good client at 1 req/s keeps getting 200, an exempt
 * client never limited, policies reloaded live, and bad configuration refused at start.
 * Bounded load (a few hundred requests), no timing assertions.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { putConfig, type ServiceProcess, spawnRole, startRole, stopAll } from './helpers/processes.js';

const dir = mkdtempSync(join(tmpdir(), 'limiter-test-'));
function policyFile(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

const POLICIES = `
default: { algorithm: token-bucket, limit: 5, window: 1s }
clients:
  good-user: { algorithm: token-bucket, limit: 5, window: 1s }
  # Token buckets of an hour: nothing refills within a test (a fixed window of 1h resets
  # on the hour, and a run across it admitted one more: a fresh-clone run failed at 13:00).
  bad-actor: { algorithm: token-bucket, limit: 10, window: 1h }
  reloaded-client: { algorithm: token-bucket, limit: 3, window: 1h }
  partner:   { exempt: true }
`;

let limiter: ServiceProcess;
let nodes: ServiceProcess[];

beforeAll(async () => {
  nodes = await Promise.all(
    [1, 2].map((id) => startRole('node', ['--id', String(id)], { LOG_LEVEL: 'warn' })),
  );
  const balancer = await startRole('balancer', [], {
    UPSTREAMS: nodes.map((n) => n.url).join(','),
    LOG_LEVEL: 'warn',
  });
  limiter = await startRole('limiter', [], {
    UPSTREAM: balancer.url,
    RATE_LIMIT_POLICIES: policyFile('policies.yaml', POLICIES),
    LOG_LEVEL: 'warn',
  });
}, 120_000);
afterAll(stopAll);

async function send(key: string | undefined, path = '/health'): Promise<Response> {
  const response = await fetch(`${limiter.url}${path}`, { headers: key ? { 'x-api-key': key } : {} });
  await response.arrayBuffer();
  return response;
}

/** `concurrency` loops sending back to back until `count` requests are done; status → count. */
async function flood(key: string, count: number, concurrency = 8): Promise<Map<number, number>> {
  const statuses = new Map<number, number>();
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next++ < count) {
        const { status } = await send(key);
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
      }
    }),
  );
  return statuses;
}

describe('limiter → balancer → nodes', () => {
  it('proxies through the balancer: the node answers, the limiter adds its fields', async () => {
    const response = await fetch(`${limiter.url}/health`, { headers: { 'x-api-key': 'good-user' } });
    expect(response.status).toBe(200);
    expect(((await response.json()) as { status: string }).status).toBe('ok');
    expect(response.headers.get('x-upstream')).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(response.headers.get('ratelimit-policy')).toBe('"good-user";q=5;w=1');
    // The limiter's own /metrics, not a node's.
    const metrics = await (await fetch(`${limiter.url}/metrics`)).text();
    expect(metrics).toContain('lab_ratelimit_tracked_keys');
    expect(metrics).not.toContain('lab_node_active_requests');
  });

  it('a bad client flooding gets 429s while a good client at 1 req/s gets 200 for the whole run', async () => {
    const good: number[] = [];
    const goodClient = (async () => {
      for (let i = 0; i < 6; i++) {
        good.push((await send('good-user')).status);
        await sleep(1000);
      }
    })();
    const bad = await flood('bad-actor', 300);
    await goodClient;
    expect(good).toEqual([200, 200, 200, 200, 200, 200]);
    expect(bad.get(200)).toBe(10);
    expect(bad.get(429)).toBe(290);
    const rejected = await fetch(`${limiter.url}/health`, { headers: { 'x-api-key': 'bad-actor' } });
    expect(rejected.status).toBe(429);
    expect(Number(rejected.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await rejected.json()).toMatchObject({ status: 429, policy: 'bad-actor' });
  }, 60_000);

  it('an exempt client is never limited', async () => {
    const statuses = await flood('partner', 200);
    expect([...statuses]).toEqual([[200, 200]]);
  });

  it('policies reloaded live take effect at once; a bad reload is refused and changes nothing', async () => {
    const before = await flood('reloaded-client', 20, 4);
    expect(before.get(200)).toBe(3);
    expect(before.get(429)).toBe(17);

    const refused = await putConfig(limiter.url, {
      policies: { default: { algorithm: 'nope', limit: 1, window: '1s' } },
    });
    expect(refused.status).toBe(400);
    expect((await send('reloaded-client')).status).toBe(429);

    const applied = await putConfig(limiter.url, {
      policies: {
        default: { algorithm: 'token-bucket', limit: 5, window: '1s' },
        clients: { 'reloaded-client': { exempt: true }, 'bad-actor': { exempt: true } },
      },
    });
    expect(applied.status).toBe(200);
    const after = await flood('reloaded-client', 50, 4);
    expect([...after]).toEqual([[200, 50]]);
    expect((await send('bad-actor')).status).toBe(200);
    const metrics = await (await fetch(`${limiter.url}/metrics`)).text();
    expect(metrics).toContain(
      'lab_ratelimit_algorithm_info{policy="reloaded-client",algorithm="exempt",service="limiter"} 1',
    );
  });
});

describe('limiter: bad configuration stops it with a clear message', () => {
  async function failsWith(env: Record<string, string>): Promise<{ code: number | string; stderr: string }> {
    const proc = spawnRole('limiter', ['--port', '0'], env);
    const code = await proc.exited;
    return { code, stderr: proc.stderr() };
  }

  it('a malformed policies file: the variable, the file, the path inside it and the reason', async () => {
    const file = policyFile('bad.yaml', 'default: { algorithm: token-bucket, limit: -3, window: 1s }\n');
    const { code, stderr } = await failsWith({ RATE_LIMIT_POLICIES: file });
    expect(code).toBe(2);
    expect(stderr).toContain('RATE_LIMIT_POLICIES');
    expect(stderr).toContain(file);
    expect(stderr).toContain('default.limit: limit must be at least 1');
  });

  it('an unknown algorithm, a YAML syntax error, a missing file', async () => {
    const unknown = policyFile('unknown.yaml', 'clients:\n  x: { algorithm: leaky, limit: 1, window: 1s }\n');
    expect((await failsWith({ RATE_LIMIT_POLICIES: unknown })).stderr).toMatch(
      /clients\.x\.algorithm: unknown algorithm "leaky"/,
    );
    const syntax = policyFile('syntax.yaml', 'default: { algorithm: [\n');
    expect((await failsWith({ RATE_LIMIT_POLICIES: syntax })).stderr).toMatch(
      /syntax\.yaml[\s\S]*line \d+, column \d+/,
    );
    const missing = await failsWith({ RATE_LIMIT_POLICIES: join(dir, 'missing.yaml') });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/missing\.yaml[\s\S]*cannot read it/);
  });

  it('a bad TRUSTED_PROXIES entry or UPSTREAM names the variable', async () => {
    const proxies = await failsWith({ TRUSTED_PROXIES: '10.0.0.0/8,not-an-ip' });
    expect(proxies.code).toBe(2);
    expect(proxies.stderr).toMatch(/TRUSTED_PROXIES \(--trusted-proxies\): "not-an-ip" is not an IP address/);
    const upstream = await failsWith({ UPSTREAM: 'ftp://example' });
    expect(upstream.code).toBe(2);
    expect(upstream.stderr).toMatch(/UPSTREAM \(--upstream\)/);
  });
});
