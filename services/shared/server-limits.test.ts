import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { connect } from 'node:net';
import { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from './config.js';
import { createLogger } from './logger.js';
import { MAX_HEADERS_COUNT, type RunningService, serverTimeouts, startService } from './server.js';

/** Writes `data` on a fresh connection and collects what comes back until the server closes it or `ms` pass. */
function exchange(port: number, data: string, ms = 5_000): Promise<{ text: string; closed: boolean }> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let text = '';
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ text, closed: false });
    }, ms);
    socket.on('data', (chunk) => {
      text += chunk.toString('latin1');
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ text, closed: true });
    });
    socket.write(data);
  });
}

describe('serverTimeouts', () => {
  it('defaults to 10 s for headers and 60 s for the whole request, checked at most once a second', () => {
    expect(serverTimeouts({})).toEqual({
      headersTimeoutMs: 10_000,
      requestTimeoutMs: 60_000,
      checkIntervalMs: 1_000,
    });
  });

  it('checks at a quarter of the shorter timeout, so short test timeouts fire on time', () => {
    expect(serverTimeouts({ headersTimeoutMs: 400, requestTimeoutMs: 1_000 }).checkIntervalMs).toBe(100);
    expect(serverTimeouts({ headersTimeoutMs: 2_000, requestTimeoutMs: 0 }).checkIntervalMs).toBe(500);
  });

  it('refuses a headers timeout longer than the request timeout, naming both variables', () => {
    expect(() => serverTimeouts({ headersTimeoutMs: 5_000, requestTimeoutMs: 1_000 })).toThrow(ConfigError);
    expect(() => serverTimeouts({ headersTimeoutMs: 5_000, requestTimeoutMs: 1_000 })).toThrow(
      /HEADERS_TIMEOUT_MS \(5000\) must not exceed REQUEST_TIMEOUT_MS \(1000\)/,
    );
    // 0 turns the request timeout off; any headers timeout goes with it.
    expect(() => serverTimeouts({ headersTimeoutMs: 5_000, requestTimeoutMs: 0 })).not.toThrow();
  });
});

describe('startService limits (a real server on loopback)', () => {
  let service: RunningService;
  let port: number;
  beforeAll(async () => {
    const app = new Hono();
    app.get('/', (c) => c.json({ headers: Object.keys(c.req.header()).length }));
    app.post('/', async (c) => c.text(await c.req.text().catch(() => '')));
    service = await startService({
      host: '127.0.0.1',
      port: 0,
      app,
      log: createLogger('test', 'silent'),
      shutdownTimeoutMs: 1_000,
      handleSignals: false,
      headersTimeoutMs: 300,
      requestTimeoutMs: 600,
    });
    port = (service.server.address() as AddressInfo).port;
  });
  afterAll(() => service.stop());

  const headers = (n: number) => Array.from({ length: n }, (_, i) => `x-h${i}: v\r\n`).join('');

  it(`answers a request with ${MAX_HEADERS_COUNT} header fields`, async () => {
    // Host + connection + (max - 2) others = max.
    const { text } = await exchange(
      port,
      `GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n${headers(MAX_HEADERS_COUNT - 2)}\r\n`,
    );
    expect(text).toMatch(/^HTTP\/1\.1 200 /);
    expect(text).toContain(`{"headers":${MAX_HEADERS_COUNT}}`);
  });

  it('refuses one more with 431 and closes, instead of silently dropping fields', async () => {
    const { text, closed } = await exchange(
      port,
      `GET / HTTP/1.1\r\nHost: x\r\n${headers(MAX_HEADERS_COUNT)}\r\n`,
    );
    expect(text).toMatch(/^HTTP\/1\.1 431 /);
    expect(text).toContain('too many header fields');
    expect(closed).toBe(true);
  });

  it('refuses two Host fields, in any case, with 400 and closes (RFC 9112 §3.2)', async () => {
    for (const second of ['Host: y', 'HOST: x', 'host: x']) {
      const { text, closed } = await exchange(port, `GET / HTTP/1.1\r\nHost: x\r\n${second}\r\n\r\n`);
      expect(text, second).toMatch(/^HTTP\/1\.1 400 /);
      expect(text).toContain('more than one Host header field');
      expect(closed).toBe(true);
    }
  });

  it('cuts a client that drips its headers with 408 (headersTimeout)', async () => {
    const socket = connect(port, '127.0.0.1');
    let text = '';
    socket.on('data', (chunk) => {
      text += chunk.toString('latin1');
    });
    socket.on('error', () => {});
    socket.write('GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ');
    const drip = setInterval(() => socket.writable && socket.write('a'), 50);
    await once(socket, 'close');
    clearInterval(drip);
    expect(text).toMatch(/^HTTP\/1\.1 408 /);
  });

  it('cuts a body that never finishes with 408 (requestTimeout)', async () => {
    const { text, closed } = await exchange(
      port,
      'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nonly part of it',
    );
    expect(closed).toBe(true);
    expect(text).toMatch(/^HTTP\/1\.1 408 /);
  });

  it('never cuts an idle keep-alive connection: the timeouts count from a request’s first byte', async () => {
    const socket = connect(port, '127.0.0.1');
    let text = '';
    socket.on('data', (chunk) => {
      text += chunk.toString('latin1');
    });
    socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    await new Promise((resolve) => setTimeout(resolve, 1_500)); // idle for 2.5× the request timeout
    socket.write('GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    await once(socket, 'close');
    expect(text.match(/HTTP\/1\.1 200 /g)).toHaveLength(2);
  });
});
