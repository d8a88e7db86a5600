import { once } from 'node:events';
import { Agent, createServer, type IncomingMessage, request, type Server } from 'node:http';
import { type AddressInfo, connect } from 'node:net';
import type { Pool } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { send } from '../../tests/helpers/http.js';
import { type ForwardOptions, forward } from './forward.js';
import { type ForwardOutcome, isRetryable } from './outcome.js';
import { createUpstreamPool } from './pool.js';

/** An upstream that echoes what it received, with a few special paths. */
function echoServer(): Server {
  return createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk) => {
      body += chunk;
    });
    req.on('end', () => {
      if (req.url === '/slow') {
        setTimeout(() => res.end('late'), 2_000);
        return;
      }
      const status = req.url === '/missing' ? 404 : req.url === '/limited' ? 429 : 200;
      res.writeHead(status, {
        'content-type': 'application/json',
        connection: 'keep-alive',
        'keep-alive': 'timeout=65',
        'x-node-id': 'echo',
        ...(req.url === '/draining' ? { 'X-Draining': '1' } : {}),
        ...(req.url === '/cookies' ? { 'set-cookie': ['a=1', 'b=2'] } : {}),
      });
      res.end(JSON.stringify({ method: req.method, url: req.url, headers: req.headers, body }));
    });
  });
}

async function listen(server: Server): Promise<string> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe('forward', () => {
  const upstream = echoServer();
  let upstreamUrl = '';
  let pool: Pool;
  let deadPool: Pool;
  const outcomes: ForwardOutcome[] = [];
  let options: (path: string) => ForwardOptions = () => ({});
  const proxy = createServer((req, res) => {
    const path = req.url ?? '';
    const target = path.startsWith('/dead') ? deadPool : pool;
    if (req.headers['x-test-drain']) {
      // What startService does to every response while it drains.
      res.shouldKeepAlive = false;
      res.setHeader('x-draining', '1');
    }
    forward(req, res, target, {
      responseHeaders: ['x-upstream', 'echo'],
      onDone: (outcome) => {
        outcomes.push(outcome);
        return undefined;
      },
      ...options(path),
    });
  });
  let proxyUrl = '';

  beforeAll(async () => {
    upstreamUrl = await listen(upstream);
    proxyUrl = await listen(proxy);
    pool = createUpstreamPool(upstreamUrl);
    // A port nothing listens on: take one and free it.
    const probe = createServer();
    const deadUrl = await listen(probe);
    probe.close();
    deadPool = createUpstreamPool(deadUrl);
  });
  afterAll(async () => {
    await Promise.all([pool.close(), deadPool.close()]);
    proxy.close();
    upstream.close();
  });

  it('forwards method, path, query and headers; strips hop-by-hop both ways; sets X-Forwarded-*', async () => {
    const reply = await send(`${proxyUrl}/echo?a=1&b=two`, {
      headers: {
        connection: 'keep-alive, x-secret',
        'x-secret': 'hop',
        'x-custom': 'kept',
        'x-forwarded-for': '203.0.113.7',
        te: 'trailers',
      },
    });
    expect(reply.status).toBe(200);
    const seen = JSON.parse(reply.body);
    expect(seen.method).toBe('GET');
    expect(seen.url).toBe('/echo?a=1&b=two');
    expect(seen.headers['x-custom']).toBe('kept');
    expect(seen.headers['x-secret']).toBeUndefined();
    expect(seen.headers.te).toBeUndefined();
    expect(seen.headers['x-forwarded-for']).toBe('203.0.113.7, 127.0.0.1');
    expect(seen.headers['x-forwarded-proto']).toBe('http');
    expect(seen.headers['x-forwarded-host']).toBe(new URL(proxyUrl).host);
    expect(seen.headers.host).toBe(new URL(upstreamUrl).host);
    expect(reply.headers['x-upstream']).toBe('echo');
    expect(reply.headers['x-node-id']).toBe('echo');
    // The upstream's Keep-Alive is not relayed (the proxy's own server may send its own).
    expect(reply.headers['keep-alive']).not.toBe('timeout=65');
    const last = outcomes.at(-1);
    expect(last).toMatchObject({ status: 200, error: undefined, sent: true });
  });

  it('passes upstream 404 and 429 through unchanged', async () => {
    expect((await send(`${proxyUrl}/missing`)).status).toBe(404);
    expect((await send(`${proxyUrl}/limited`)).status).toBe(429);
  });

  it('streams a request body upstream', async () => {
    const body = JSON.stringify({ key: 'k', value: 'v'.repeat(100_000) });
    const reply = await send(`${proxyUrl}/data`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
    });
    const seen = JSON.parse(reply.body);
    expect(seen.method).toBe('POST');
    expect(seen.body).toBe(body);
  });

  it('answers 502 JSON on a connect failure and reports it as retryable for a GET', async () => {
    let retryable: boolean | undefined;
    const proxyRetry = createServer((req, res) =>
      forward(req, res, deadPool, {
        onDone: (outcome) => {
          retryable = isRetryable(req, outcome);
          outcomes.push(outcome);
          return undefined;
        },
      }),
    );
    const url = await listen(proxyRetry);
    const reply = await send(`${url}/x`);
    proxyRetry.close();
    expect(reply.status).toBe(502);
    expect(JSON.parse(reply.body)).toMatchObject({ status: 502, detail: expect.stringMatching(/connect/) });
    expect(outcomes.at(-1)).toMatchObject({ status: 0, error: 'connect', sent: false });
    expect(retryable).toBe(true);
  });

  it('lets onDone take over a failed try (the balancer retries elsewhere)', async () => {
    const retrier = createServer((req, res) =>
      forward(req, res, deadPool, {
        onDone: (outcome) => {
          if (!isRetryable(req, outcome)) return false;
          forward(req, res, pool, { responseHeaders: ['x-upstream', 'second'] });
          return true;
        },
      }),
    );
    const url = await listen(retrier);
    const reply = await send(`${url}/again`);
    expect(reply.status).toBe(200);
    expect(reply.headers['x-upstream']).toBe('second');
    // A POST whose connection was never made is retryable too (nginx's
    // `proxy_next_upstream error`): the upstream never saw it and undici had not read its
    // body, so the whole body arrives at the second upstream.
    const posted = await send(`${url}/again`, { method: 'POST', body: 'x' });
    expect(posted.status).toBe(200);
    expect(JSON.parse(posted.body)).toMatchObject({ method: 'POST', body: 'x' });
    retrier.close();
  });

  it('retries a broken connection only for an idempotent request without a body', () => {
    const failed = (error: ForwardOutcome['error'], sent = false): ForwardOutcome => ({
      status: 0,
      error,
      cause: undefined,
      sent,
      headersMs: -1,
      durationMs: 1,
      draining: false,
      refused: false,
    });
    const req = (method: string, rawHeaders: string[] = [], readableDidRead = false) =>
      ({ method, rawHeaders, readableDidRead }) as unknown as IncomingMessage;
    const post = req('POST', ['Content-Length', '1']);
    expect(isRetryable(req('GET'), failed('socket'))).toBe(true);
    expect(isRetryable(post, failed('socket'))).toBe(false); // the upstream may have seen it
    expect(isRetryable(req('DELETE', ['Content-Length', '1']), failed('socket'))).toBe(false);
    expect(isRetryable(post, failed('connect'))).toBe(true); // never reached the upstream
    // ... unless its streamed body was already (partly) read and no copy was kept.
    expect(isRetryable(req('POST', ['Content-Length', '1'], true), failed('connect'))).toBe(false);
    expect(isRetryable(req('POST', ['Content-Length', '1'], true), failed('connect'), true)).toBe(true);
    expect(isRetryable(req('GET'), failed('connect', true))).toBe(false); // the client got something
    expect(isRetryable(req('GET'), failed('timeout'))).toBe(false);
  });

  it('answers 400 to an absolute-form target and still reports one outcome', async () => {
    const before = outcomes.length;
    const { port } = new URL(proxyUrl);
    const socket = connect(Number(port), '127.0.0.1');
    socket.write('GET http://example.com/ HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n');
    let text = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk) => {
      text += chunk;
    });
    await once(socket, 'end');
    expect(text).toMatch(/^HTTP\/1.1 400/);
    expect(outcomes.length).toBe(before + 1);
    expect(outcomes.at(-1)).toMatchObject({ status: 400, error: undefined, sent: true });
  });

  it('reports an upstream that announces its drain, and does not relay the announcement', async () => {
    const reply = await send(`${proxyUrl}/draining`);
    expect(reply.status).toBe(200);
    expect(reply.headers['x-draining']).toBeUndefined(); // it describes that hop only
    expect(reply.headers['x-node-id']).toBe('echo');
    expect(outcomes.at(-1)).toMatchObject({ status: 200, error: undefined, draining: true });
    await send(`${proxyUrl}/echo`);
    expect(outcomes.at(-1)).toMatchObject({ status: 200, draining: false });
  });

  it('relays repeated headers (two Set-Cookie) intact when its own server is draining', async () => {
    const normal = await send(`${proxyUrl}/cookies`);
    expect(normal.headers['set-cookie']).toEqual(['a=1', 'b=2']);
    const draining = await send(`${proxyUrl}/cookies`, { headers: { 'x-test-drain': '1' } });
    expect(draining.status).toBe(200);
    expect(draining.headers['set-cookie']).toEqual(['a=1', 'b=2']);
    expect(draining.headers['x-draining']).toBe('1');
    expect(draining.headers.connection).toBe('close');
    expect(draining.headers['x-upstream']).toBe('echo');
  });

  it('answers 504 when the per-try timeout passes', async () => {
    options = (path) => (path === '/slow' ? { timeoutMs: 200 } : {});
    const reply = await send(`${proxyUrl}/slow`);
    expect(reply.status).toBe(504);
    expect(reply.headers['x-upstream']).toBe('echo');
    expect(outcomes.at(-1)).toMatchObject({ error: 'timeout', sent: false });
    options = () => ({});
  });
});

describe('an answer before the client finished its body (lingering close)', () => {
  // An upstream that refuses every upload at once, without reading it, as a body limit
  // does; small bodies (`x-small`) it reads and answers 200.
  const refusing = createServer((req, res) => {
    if (req.headers['x-small']) {
      req.resume();
      req.on('end', () => res.end('ok'));
      return;
    }
    res.writeHead(413, { 'content-type': 'text/plain', 'content-length': '8' });
    res.end('too big\n');
    req.resume();
  });
  let pool: Pool;
  let proxy: Server;
  let port = 0;

  beforeAll(async () => {
    pool = createUpstreamPool(await listen(refusing));
    proxy = createServer((req, res) => forward(req, res, pool));
    proxy.requestTimeout = 4_000; // a stalled connection would end in a 408, not hang the test
    port = Number(new URL(await listen(proxy)).port);
  });
  afterAll(async () => {
    await pool.close();
    proxy.close();
    refusing.close();
  });

  /** One request on the single keep-alive `agent` connection: status, or the error code. */
  function post(agent: Agent, big: boolean): Promise<number | string> {
    return new Promise((resolve) => {
      const headers: Record<string, string> = big ? {} : { 'x-small': '1', 'content-length': '2' };
      const req = request(
        { host: '127.0.0.1', port, method: 'POST', path: '/data', agent, headers },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        },
      );
      req.on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
      if (!big) {
        req.end('hi');
        return;
      }
      // A chunked upload of 20 × 32 KiB, still streaming when the 413 comes back.
      let chunks = 0;
      const pump = () => {
        if (chunks++ === 20) req.end();
        else {
          req.write(Buffer.alloc(32_768, 120));
          setTimeout(pump, 1);
        }
      };
      pump();
    });
  }

  it('relays the early 413, reads and drops the rest of the upload, and the connection serves the next request', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const statuses: (number | string)[] = [];
      for (let round = 0; round < 5; round++)
        statuses.push(await post(agent, true), await post(agent, false));
      expect(statuses).toEqual([413, 200, 413, 200, 413, 200, 413, 200, 413, 200]);
    } finally {
      agent.destroy();
    }
  });
});
