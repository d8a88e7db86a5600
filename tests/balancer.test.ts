/**
 * The balancer as a real process in front of real node processes on loopback:
 * pass-through, retries, ejection and re-admission, live switching, bad input, and
 * load-aware strategies avoiding a node slowed through its admin API.
 */
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
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

afterAll(stopAll);

const auth = { authorization: `Bearer ${ADMIN_TOKEN}` };

async function startNodes(count: number, args: string[][] = []): Promise<ServiceProcess[]> {
  return Promise.all(
    Array.from({ length: count }, (_, i) => startRole('node', ['--id', String(i + 1), ...(args[i] ?? [])])),
  );
}

function startBalancer(upstreams: string[], env: Record<string, string> = {}) {
  return startRole('balancer', [], { UPSTREAMS: upstreams.join(','), LOG_LEVEL: 'warn', ...env });
}

interface State {
  strategy: string;
  healthy: number;
  upstreams: { name: string; healthy: boolean; in_flight: number; requests: Record<string, number> }[];
}
async function state(balancer: ServiceProcess): Promise<State> {
  return (await (await fetch(`${balancer.url}/admin/state`, { headers: auth })).json()) as State;
}

/** `concurrency` clients, each sending requests back to back until `count` are done. */
async function drive(
  count: number,
  concurrency: number,
  send: (i: number) => Promise<Response>,
): Promise<{ statuses: Map<number, number>; upstreams: Map<string, number> }> {
  const statuses = new Map<number, number>();
  const upstreams = new Map<string, number>();
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        const i = next++;
        const response = await send(i);
        await response.arrayBuffer();
        statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
        const upstream = response.headers.get('x-upstream') ?? 'none';
        upstreams.set(upstream, (upstreams.get(upstream) ?? 0) + 1);
      }
    }),
  );
  return { statuses, upstreams };
}

const hostOf = (node: ServiceProcess) => new URL(node.url).host;

describe('balancer process: proxying', () => {
  afterEach(stopAll);

  it('round-robins GETs over three nodes and names the node in X-Upstream', async () => {
    const nodes = await startNodes(3);
    const lb = await startBalancer(nodes.map((n) => n.url));
    const seen: string[] = [];
    for (let i = 0; i < 6; i++) {
      const response = await fetch(`${lb.url}/`);
      const body = (await response.json()) as { id: string };
      expect(response.status).toBe(200);
      const upstream = response.headers.get('x-upstream') as string;
      seen.push(upstream);
      expect(upstream).toBe(hostOf(nodes[Number(body.id) - 1] as ServiceProcess));
    }
    expect(seen.slice(0, 3).sort()).toEqual(nodes.map(hostOf).sort());
    expect(seen.slice(3)).toEqual(seen.slice(0, 3));
  });

  it('passes upstream 404 and 429 through unchanged, with bodies and headers', async () => {
    const upstream = createServer((req, res) => {
      const status = req.url === '/limited' ? 429 : 404;
      res.writeHead(status, { 'content-type': 'application/json', 'retry-after': '7' });
      res.end(JSON.stringify({ status }));
    });
    upstream.listen(0, '127.0.0.1');
    await once(upstream, 'listening');
    const url = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
    try {
      const lb = await startBalancer([`teapot=${url}`]);
      const missing = await fetch(`${lb.url}/missing?x=1`);
      expect(missing.status).toBe(404);
      expect(await missing.json()).toEqual({ status: 404 });
      const limited = await fetch(`${lb.url}/limited`);
      expect(limited.status).toBe(429);
      expect(limited.headers.get('retry-after')).toBe('7');
      expect(limited.headers.get('x-upstream')).toBe('teapot');
      await limited.arrayBuffer();
    } finally {
      upstream.close();
    }
  });

  it('discovers upstreams through DNS (UPSTREAMS_DNS=localhost:port)', async () => {
    const [node] = await startNodes(1);
    const lb = await startBalancer([], {
      UPSTREAMS: '',
      UPSTREAMS_DNS: `localhost:${(node as ServiceProcess).port}`,
    });
    const response = await fetch(`${lb.url}/`);
    expect(response.status).toBe(200);
    expect(response.headers.get('x-upstream')).toBe(`127.0.0.1:${(node as ServiceProcess).port}`);
    await response.arrayBuffer();
  });

  it('answers 503 problem+json when no upstream is healthy', async () => {
    const dead = [await freePort(), await freePort()].map((p) => `http://127.0.0.1:${p}`);
    const lb = await startBalancer(dead, { LB_HEALTH_INTERVAL: '200ms', LB_HEALTH_FALL: '1' });
    await sleep(800);
    const response = await fetch(`${lb.url}/anything`);
    expect(response.status).toBe(503);
    expect(response.headers.get('content-type')).toBe('application/problem+json');
    const body = (await response.json()) as { status: number; detail: string; upstreams: unknown[] };
    expect(body.status).toBe(503);
    expect(body.detail).toMatch(/no healthy upstream/);
    expect(body.upstreams).toHaveLength(2);
  });

  it('retries even a POST that could not connect on another upstream (it never reached the first)', async () => {
    const [node] = await startNodes(1);
    const deadUrl = `http://127.0.0.1:${await freePort()}`;
    // Health checks far apart, so only the requests themselves discover the dead upstream.
    const lb = await startBalancer([deadUrl, (node as ServiceProcess).url], { LB_HEALTH_INTERVAL: '60s' });

    // Round robin starts with the dead upstream: the connection is refused before the
    // request is sent, so the POST goes, body and all, to the other upstream (as nginx's
    // proxy_next_upstream does). A POST whose connection broke after it was sent never is.
    const post = await fetch(`${lb.url}/data`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ key: 'k', value: 'v' }),
    });
    expect(post.status).toBe(200);
    expect(await post.json()).toMatchObject({ status: 'stored', key: 'k', value: 'v' });
    const afterPost = await state(lb);
    expect(afterPost.upstreams[0]?.requests.retried).toBe(1);
    expect(afterPost.upstreams[0]?.healthy).toBe(false); // ejected on the connect failure
  });

  it('retries a GET whose connection failed on a different upstream', async () => {
    const [node] = await startNodes(1);
    const deadUrl = `http://127.0.0.1:${await freePort()}`;
    const lb = await startBalancer([deadUrl, (node as ServiceProcess).url], { LB_HEALTH_INTERVAL: '60s' });
    const response = await fetch(`${lb.url}/`);
    expect(response.status).toBe(200);
    expect(response.headers.get('x-upstream')).toBe(hostOf(node as ServiceProcess));
    await response.arrayBuffer();
    const s = await state(lb);
    expect(s.upstreams[0]?.requests.retried).toBe(1);
  });

  it('answers 504 when the upstream is slower than the per-try timeout', async () => {
    const [node] = await startNodes(1, [['--latency-ms', '3000']]);
    const lb = await startBalancer([(node as ServiceProcess).url], {
      LB_TRY_TIMEOUT: '300ms',
      LB_EJECT_AFTER: '0',
    });
    await fetch(`${(node as ServiceProcess).url}/data`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ key: 'slow', value: 'v' }),
    });
    const response = await fetch(`${lb.url}/data/slow`);
    expect(response.status).toBe(504);
    expect(response.headers.get('content-type')).toBe('application/problem+json');
    expect(((await response.json()) as { detail: string }).detail).toMatch(/timed out/);
  });

  it('consistent-hash sends POST /data (key in the body) and GET /data/:key to the same node', async () => {
    const nodes = await startNodes(3);
    const lb = await startBalancer(
      nodes.map((n) => n.url),
      { LB_STRATEGY: 'consistent-hash' },
    );
    for (const key of ['alpha', 'beta', 'gamma', 'delta', 'epsilon', 'zeta']) {
      const stored = await fetch(`${lb.url}/data`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ key, value: `v-${key}` }),
      });
      expect(stored.status).toBe(200);
      const storedOn = stored.headers.get('x-upstream');
      await stored.arrayBuffer();
      const read = await fetch(`${lb.url}/data/${key}`);
      expect(read.status, `GET /data/${key}`).toBe(200);
      expect(read.headers.get('x-upstream')).toBe(storedOn);
      expect(((await read.json()) as { value: string }).value).toBe(`v-${key}`);
    }
  });
});

describe('balancer process: admin', () => {
  afterEach(stopAll);

  it('refuses bad updates with 400 and the reason, leaving the strategy unchanged', async () => {
    const nodes = await startNodes(2);
    const lb = await startBalancer(nodes.map((n) => n.url));
    const unknown = await putConfig(lb.url, { strategy: 'fastest-please' });
    expect(unknown.status).toBe(400);
    expect(JSON.stringify(await unknown.json())).toMatch(/round-robin/);
    const negative = await putConfig(lb.url, { weights: { [hostOf(nodes[0] as ServiceProcess)]: -2 } });
    expect(negative.status).toBe(400);
    expect(JSON.stringify(await negative.json())).toMatch(/weights must be integers/);
    const stranger = await putConfig(lb.url, { weights: { 'nobody:1': 2 } });
    expect(stranger.status).toBe(400);
    expect(JSON.stringify(await stranger.json())).toMatch(/unknown upstream/);
    expect((await state(lb)).strategy).toBe('round-robin');

    const ok = await putConfig(lb.url, { strategy: 'least-connections' });
    expect(ok.status).toBe(200);
    expect((await state(lb)).strategy).toBe('least-connections');
    const metrics = await (await fetch(`${lb.url}/metrics`)).text();
    expect(metrics).toMatch(
      /lab_balancer_strategy_info\{strategy="least-connections",service="balancer"\} 1/,
    );
    const unauthorized = await fetch(`${lb.url}/admin/state`);
    expect(unauthorized.status).toBe(401);
  });

  it('exits non-zero naming the variable on bad config', async () => {
    const port = await freePort();
    const bad = spawnRole('balancer', ['--port', String(port)], {
      UPSTREAMS: 'http://a:1*0',
      LB_STRATEGY: 'nope',
    });
    expect(await bad.exited).toBe(2);
    expect(bad.stderr()).toMatch(/UPSTREAMS/);
    expect(bad.stderr()).toMatch(/LB_STRATEGY/);
  });

  it('switches strategy live under traffic without a failed request', async () => {
    const nodes = await startNodes(3);
    const lb = await startBalancer(nodes.map((n) => n.url));
    const traffic = drive(600, 6, (i) => fetch(`${lb.url}/data/key-${i % 50}`));
    const names = [
      'least-connections',
      'power-of-two',
      'peak-ewma',
      'consistent-hash',
      'random',
      'weighted-round-robin',
      'round-robin',
    ];
    for (const strategy of names) {
      await sleep(60);
      expect((await putConfig(lb.url, { strategy })).status).toBe(200);
    }
    const { statuses } = await traffic;
    // Every request answered by a node: 404 (key not stored) is the node's own answer.
    expect([...statuses.keys()]).toEqual([404]);
    expect(statuses.get(404)).toBe(600);
  });
});

describe('balancer process: health', () => {
  afterEach(stopAll);

  it('survives SIGKILL of a node under steady GETs with zero failures, marks it down, re-admits it after restart', async () => {
    const nodes = await startNodes(3);
    const env = { LB_HEALTH_INTERVAL: '500ms', LB_HEALTH_FALL: '2', LB_HEALTH_RISE: '2' };
    const lb = await startBalancer(
      nodes.map((n) => n.url),
      env,
    );
    const victim = nodes[1] as ServiceProcess;
    const victimName = hostOf(victim);

    let stop = false;
    const statuses = new Map<number, number>();
    const clients = Array.from({ length: 4 }, async () => {
      while (!stop) {
        const response = await fetch(`${lb.url}/`);
        await response.arrayBuffer();
        statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
      }
    });
    await sleep(500);
    const killedAt = performance.now();
    victim.proc.kill('SIGKILL');
    await victim.exited;

    // Detection: passive ejection on the first refused connect, at the latest fall × interval.
    let downAfterMs = -1;
    while (performance.now() - killedAt < 10_000) {
      const s = await state(lb);
      if (s.upstreams.find((u) => u.name === victimName)?.healthy === false) {
        downAfterMs = performance.now() - killedAt;
        break;
      }
      await sleep(50);
    }
    await sleep(500);
    stop = true;
    await Promise.all(clients);
    console.log(
      `node ${victimName} marked down ${Math.round(downAfterMs)} ms after SIGKILL; statuses`,
      statuses,
    );
    expect(downAfterMs).toBeGreaterThanOrEqual(0);
    // The configured detection time (fall × interval = 1 s) plus a generous margin.
    expect(downAfterMs).toBeLessThan(1_000 + 2_000);
    expect([...statuses.keys()]).toEqual([200]);

    // Restart on the same port: re-admitted after `rise` passed checks.
    const restarted = spawnRole('node', ['--port', String(victim.port), '--id', '2'], { LOG_LEVEL: 'warn' });
    await waitForHttp(`${restarted.url}/health`, 15_000, restarted);
    const deadline = performance.now() + 10_000;
    let back = false;
    while (!back && performance.now() < deadline) {
      back = (await state(lb)).upstreams.find((u) => u.name === victimName)?.healthy === true;
      if (!back) await sleep(100);
    }
    expect(back).toBe(true);
    const { upstreams } = await drive(30, 1, () => fetch(`${lb.url}/`));
    expect(upstreams.get(victimName)).toBe(10);
  });
});

describe('balancer process: a slow node', () => {
  afterAll(stopAll);
  const shares: Record<string, number> = {};
  let nodes: ServiceProcess[] = [];
  let lb: ServiceProcess;

  it('sets up three nodes, node 3 slowed to fib(28) per data request through its admin API', async () => {
    nodes = await startNodes(3);
    expect((await putConfig((nodes[2] as ServiceProcess).url, { loadFactor: 28 })).status).toBe(200);
    lb = await startBalancer(
      nodes.map((n) => n.url),
      // Health checks out of the way: the slow node's /health waits behind its queued fib()
      // on a loaded machine and could be marked down, which would hide the strategies' effect.
      { LB_TRY_TIMEOUT: '30s', LB_TOTAL_TIMEOUT: '60s', LB_HEALTH_INTERVAL: '60s', LB_EJECT_AFTER: '0' },
    );
  });

  it.each(['round-robin', 'least-connections', 'power-of-two', 'peak-ewma'])(
    '%s: share of 300 concurrent POST /data on the slow node',
    async (strategy) => {
      expect((await putConfig(lb.url, { strategy })).status).toBe(200);
      const { statuses, upstreams } = await drive(300, 12, (i) =>
        fetch(`${lb.url}/data`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ key: `k${i}`, value: 'v' }),
        }),
      );
      expect([...statuses.keys()]).toEqual([200]);
      const share = (upstreams.get(hostOf(nodes[2] as ServiceProcess)) ?? 0) / 300;
      shares[strategy] = share;
      console.log(`${strategy}: slow node got ${(share * 100).toFixed(1)} % of 300 requests`);
    },
  );

  it('least-connections, power-of-two and peak-ewma send clearly fewer requests to the slow node than round-robin', () => {
    console.log('slow-node shares', shares);
    expect(shares['round-robin']).toBeGreaterThan(0.3);
    for (const strategy of ['least-connections', 'power-of-two', 'peak-ewma']) {
      expect(shares[strategy], strategy).toBeLessThan((shares['round-robin'] as number) - 0.1);
    }
  });
});
