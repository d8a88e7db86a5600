import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { LabApi } from './lab-api.js';

// Something that answers JSON, but is not the lab's service (a URL pointing at the wrong port).
const impostor = createServer((_req, res) => {
  res.writeHead(200, { 'content-type': 'application/json' }).end('{"limiterUrl":"http://127.0.0.1:8080"}');
}).listen(0, '127.0.0.1');
await once(impostor, 'listening');
const url = `http://127.0.0.1:${(impostor.address() as AddressInfo).port}`;
afterAll(() => {
  impostor.close();
});

describe('LabApi.readAll', () => {
  it('an answer that is not the service it should be is a read that failed, saying so', async () => {
    const api = new LabApi({
      balancerUrl: url,
      limiterUrl: url,
      nodeUrls: [{ name: 'node-1', url }],
      adminToken: 'console-test-token',
      readTimeout: 1_000,
    });
    const { balancer, limiter, nodes } = await api.readAll();
    expect(balancer).toEqual({
      ok: false,
      error: `${url}/admin/state did not answer as the balancer does (is its URL right?)`,
    });
    expect(limiter).toEqual({
      ok: false,
      error: `${url}/admin/config did not answer as the limiter does (is its URL right?)`,
    });
    expect(nodes[0]?.stats).toEqual({
      ok: false,
      error: `${url}/stats did not answer as the node does (is its URL right?)`,
    });
  });
});
