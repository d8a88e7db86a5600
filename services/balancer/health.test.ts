import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUpstreamPool } from '../shared/pool.js';
import { checkOnce } from './health.js';
import { Upstream } from './upstreams.js';

/** Answers `/<status>` with that status; `/draining` with 200 and `X-Draining: 1`. */
const server = createServer((req, res) => {
  if (req.url === '/draining') res.writeHead(200, { 'x-draining': '1' });
  else res.writeHead(Number(req.url?.slice(1)));
  res.end();
});
let upstream: Upstream;

beforeAll(async () => {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  upstream = new Upstream({ name: 'u', url, weight: 1 }, createUpstreamPool(url));
});
afterAll(async () => {
  await upstream.pool.close();
  server.close();
});

describe('checkOnce', () => {
  const check = (path: string) => checkOnce(upstream, { path, intervalMs: 1000, timeoutMs: 2000 });

  it('passes on 2xx and 3xx', async () => {
    expect(await check('/200')).toEqual({ problem: undefined, draining: false });
    expect(await check('/302')).toEqual({ problem: undefined, draining: false });
  });

  it('a 503, or any answer with X-Draining, means draining (out at once)', async () => {
    expect(await check('/503')).toEqual({ problem: 'status 503 (draining)', draining: true });
    expect(await check('/draining')).toEqual({ problem: 'status 200 (draining)', draining: true });
  });

  it('other failures count towards `fall` only', async () => {
    expect(await check('/500')).toEqual({ problem: 'status 500', draining: false });
    expect(await check('/404')).toEqual({ problem: 'status 404', draining: false });
  });
});
