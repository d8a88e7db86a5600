/**
 * The consistent-hash balancer reads a `POST /data` body itself (to hash on its key):
 * over BODY_LIMIT (64 KiB by default) it answers 413 and drops the rest, keeping the
 * connection, where it used to destroy the request (the client met a reset before it
 * could read the 413).
 * Real sockets on loopback: the data plane on a `node:http` server, an upstream echo.
 */
import { once } from 'node:events';
import { Agent, createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../shared/config.js';
import { createLogger } from '../shared/logger.js';
import { createMetrics } from '../shared/metrics.js';
import { type Balancer, createBalancer } from './app.js';
import { balancerConfigShape, balancerConfigSources } from './config.js';

let upstream: Server;
let front: Server;
let balancer: Balancer;
let port: number;
let upstreamRequests = 0;

async function listen(server: Server): Promise<number> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as AddressInfo).port;
}

beforeAll(async () => {
  upstream = createServer((req, res) => {
    upstreamRequests++;
    req.resume();
    req.on('end', () => res.end(JSON.stringify({ stored: true })));
  });
  const upstreamPort = await listen(upstream);
  const config = loadConfig(balancerConfigShape, {
    env: { UPSTREAMS: `http://127.0.0.1:${upstreamPort}`, LB_STRATEGY: 'consistent-hash' },
    sources: balancerConfigSources,
  });
  const metrics = createMetrics('balancer', { registry: new Registry(), defaultMetrics: false });
  balancer = createBalancer({
    config,
    metrics,
    log: createLogger('balancer', 'silent'),
    upstreams: config.upstreams,
    random: () => 0.5,
  });
  front = createServer(balancer.dataPlane);
  port = await listen(front);
});
afterAll(async () => {
  front.closeAllConnections();
  front.close();
  upstream.closeAllConnections();
  upstream.close();
  await balancer.upstreams.close();
});

/** POSTs `chunks` × 64 KiB (chunked) on `agent`; resolves with the status, body and socket used. */
function post(agent: Agent, chunks: number, payload?: string) {
  return new Promise<{ status: number; body: string; socket: unknown }>((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path: '/data',
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/json' },
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk) => {
          body += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, socket: req.socket }));
      },
    );
    req.on('error', reject);
    if (payload !== undefined) {
      req.end(payload);
      return;
    }
    const block = Buffer.alloc(65_536, 0x78);
    let sent = 0;
    const write = () => {
      while (sent < chunks) {
        sent++;
        if (!req.write(block)) {
          req.once('drain', write);
          return;
        }
      }
      req.end();
    };
    write();
  });
}

describe('consistent-hash balancer, POST /data over BODY_LIMIT', () => {
  it('answers 413 the client can read, and serves the next request on the same connection', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const big = await post(agent, 32); // 2 MiB
      expect(big.status).toBe(413);
      expect(JSON.parse(big.body)).toMatchObject({
        status: 413,
        title: 'Content Too Large',
        detail: 'the request body is larger than BODY_LIMIT (65536 bytes)',
      });
      expect(upstreamRequests).toBe(0);
      const small = await post(agent, 0, JSON.stringify({ key: 'k', value: 'v' }));
      expect(small.status).toBe(200);
      expect(small.socket).toBe(big.socket); // the keep-alive connection survived
      expect(upstreamRequests).toBe(1);
    } finally {
      agent.destroy();
    }
  });
});
