/**
 * Hostile requests against every service as a real process on loopback (node, balancer
 * → node, limiter → balancer → node): malformed and oversized headers, too many
 * headers, bodies over the limit, invalid JSON and wrong types, unicode and control
 * characters, path traversal towards a node's `/admin` and `/metrics`, request
 * smuggling, and the admin API without, with a wrong, and with a very long token.
 *
 * Every case asserts the exact status, and afterwards that the service still answers its
 * health path and a legitimate request (store a key, read it back) succeeds through it.
 * Raw sockets send what HTTP clients refuse to. No timing assertions.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pool } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectStillServing, nodeStats, sendRaw, type Target } from './helpers/hostile.js';
import { ADMIN_TOKEN, type ServiceProcess, startRole, stopAll } from './helpers/processes.js';

// A generous default quota: these tests send a few hundred requests from one address,
// and what they check is the answer to each hostile request, not the rate limit.
const dir = mkdtempSync(join(tmpdir(), 'hostile-'));
const policies = join(dir, 'policies.yaml');
writeFileSync(policies, 'default: { algorithm: token-bucket, limit: 100000, window: 1s }\n');

let node: ServiceProcess;
let balancer: ServiceProcess;
let limiter: ServiceProcess;
let adminOff: ServiceProcess;
let targets: Target[];
let proxies: Target[];

beforeAll(async () => {
  node = await startRole('node', ['--id', 'h1'], { LOG_LEVEL: 'error' });
  adminOff = await startRole('node', ['--id', 'off'], { LOG_LEVEL: 'error', ADMIN_TOKEN: '' });
  balancer = await startRole('balancer', [], { UPSTREAMS: node.url, LOG_LEVEL: 'error' });
  limiter = await startRole('limiter', [], {
    UPSTREAM: balancer.url,
    RATE_LIMIT_POLICIES: policies,
    LOG_LEVEL: 'error',
  });
  targets = [
    { name: 'node', service: node, health: '/health' },
    { name: 'balancer', service: balancer, health: '/healthz' },
    { name: 'limiter', service: limiter, health: '/healthz' },
  ];
  proxies = targets.slice(1);
}, 120_000);
afterAll(stopAll);

const each = (fn: (target: Target) => Promise<void>) => async () => {
  for (const target of targets) await fn(target);
};

const GET = (target: string, headers = '') =>
  `GET ${target} HTTP/1.1\r\nHost: x\r\n${headers}Connection: close\r\n\r\n`;

describe('malformed request lines and headers → 400', () => {
  const cases: [string, string | Buffer][] = [
    ['a NUL byte in a header value', 'GET /health HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\n\r\n'],
    ['a BEL byte in a header value', 'GET /health HTTP/1.1\r\nHost: x\r\nX-A: a\x07b\r\n\r\n'],
    ['a DEL byte in a header value', 'GET /health HTTP/1.1\r\nHost: x\r\nX-A: a\x7fb\r\n\r\n'],
    ['a bare CR in a header value', 'GET /health HTTP/1.1\r\nHost: x\r\nX-A: a\rb\r\n\r\n'],
    ['a header line without a colon', 'GET /health HTTP/1.1\r\nHost: x\r\nNoColonHere\r\n\r\n'],
    ['an obs-fold continuation line', 'GET /health HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n'],
    ['a space before the colon', 'GET /health HTTP/1.1\r\nHost: x\r\nX-A : b\r\n\r\n'],
    ['a header name with "("', 'GET /health HTTP/1.1\r\nHost: x\r\nX(A): b\r\n\r\n'],
    ['a request line without a target', 'GET\r\n\r\n'],
    ['an unknown HTTP version', 'GET /health HTTP/9.9\r\nHost: x\r\n\r\n'],
    ['a method that is not a token', 'G@T /health HTTP/1.1\r\nHost: x\r\n\r\n'],
    ['a control byte in the target', 'GET /he\x01alth HTTP/1.1\r\nHost: x\r\n\r\n'],
    ['raw UTF-8 bytes in the target', Buffer.from('GET /data/ключ HTTP/1.1\r\nHost: x\r\n\r\n', 'utf8')],
    ['bare LF line endings', 'GET /health HTTP/1.1\nHost: x\n\n'],
    ['no Host header', 'GET /health HTTP/1.1\r\n\r\n'],
    ['two Host header fields (RFC 9112 §3.2)', 'GET /health HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n'],
    [
      'an invalid chunk size',
      'POST /data HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n\r\n',
    ],
  ];
  for (const [label, bytes] of cases) {
    it(
      label,
      each(async (target) => {
        const answer = await sendRaw(target.service.port, bytes);
        expect(answer.statuses, `${target.name}: ${label}`).toEqual([400]);
        expect(answer.closed).toBe(true);
        await expectStillServing(target, label);
      }),
    );
  }

  it(
    'a header value with non-ASCII bytes is data, not an error (200)',
    each(async (target) => {
      const answer = await sendRaw(
        target.service.port,
        Buffer.concat([
          Buffer.from('GET / HTTP/1.1\r\nHost: x\r\nX-Name: '),
          Buffer.from('é🔑'),
          Buffer.from('\r\nConnection: close\r\n\r\n'),
        ]),
      );
      expect(answer.statuses, target.name).toEqual([200]);
    }),
  );
});

describe('oversized and too many headers → 431', () => {
  it(
    'one 20 KB header (over the 16 KiB header limit)',
    each(async (target) => {
      const answer = await sendRaw(target.service.port, GET('/', `X-Big: ${'a'.repeat(20_000)}\r\n`));
      expect(answer.statuses, target.name).toEqual([431]);
      await expectStillServing(target, 'a 20 KB header');
    }),
  );

  it(
    '101 small header fields: refused, not silently cut to what fits (Node 20 dropped fields past its maxHeadersCount)',
    each(async (target) => {
      const fields = Array.from({ length: 100 }, (_, i) => `x-f${i}: v\r\n`).join('');
      const answer = await sendRaw(target.service.port, GET('/', fields));
      expect(answer.statuses, target.name).toEqual([431]);
      expect(answer.text).toContain('Content-Type: application/problem+json');
      expect(answer.firstBody).toContain('too many header fields (at most 100)');
      await expectStillServing(target, '101 header fields');
    }),
  );

  it(
    'exactly 100 header fields pass',
    each(async (target) => {
      const fields = Array.from({ length: 98 }, (_, i) => `x-f${i}: v\r\n`).join('');
      const answer = await sendRaw(target.service.port, GET(target.health, fields));
      expect(answer.statuses, target.name).toEqual([200]);
    }),
  );

  it(
    '2,500 tiny fields with the body length last (within 16 KiB): 431, never forwarded without its body',
    each(async (target) => {
      const fields = Array.from({ length: 2_500 }, (_, i) => `a${i}:b\r\n`).join('');
      const answer = await sendRaw(
        target.service.port,
        `POST /data HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n${fields}Content-Length: 26\r\n\r\n{"key":"kk","value":"vv"}`,
      );
      expect(answer.statuses, target.name).toEqual([431]);
      await expectStillServing(target, '2,500 header fields');
    }),
  );
});

describe('bodies over the limit → 413 from the first hop (BODY_LIMIT, 64 KiB on every service)', () => {
  /**
   * The answer must be the target's own: the node's 413, or the proxy's problem+json
   * (a proxy that streamed the body on and met the node's early close answered 502).
   * Through a proxy the node never sees the request.
   */
  async function expectOwn413(target: Target, response: Response) {
    expect(response.status, target.name).toBe(413);
    if (target.name === 'node') {
      expect(await response.json()).toEqual({ detail: 'body larger than 65536 bytes' });
      return;
    }
    expect(response.headers.get('content-type'), target.name).toBe('application/problem+json');
    expect(await response.json(), target.name).toEqual({
      type: 'about:blank',
      title: 'Content Too Large',
      status: 413,
      detail: 'the request body is larger than BODY_LIMIT (65536 bytes)',
    });
  }

  /** A chunked body of `blocks` × 32 KiB, streamed (no Content-Length). */
  const chunkedBody = (blocks: number) => {
    let sent = 0;
    return new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent++ >= blocks) controller.close();
        else controller.enqueue(new Uint8Array(32_768).fill(0x78));
      },
    });
  };

  // Several rounds each: the early answer used to race the node's close (502 about one
  // run in a few), so one pass proved little.
  // A declared length is refused before anything goes upstream; a chunked body streams
  // on until it crosses the limit (the node sees a request start, then the abort).
  for (const [label, body, forwarded] of [
    ['Content-Length over the limit', () => JSON.stringify({ key: 'big', value: 'v'.repeat(70_000) }), false],
    ['a chunked body that grows past the limit', () => chunkedBody(4), true],
  ] as const) {
    it(
      label,
      each(async (target) => {
        const before = await nodeStats(node);
        for (let round = 0; round < 5; round++) {
          // `Connection: close`: the proxies then linger until the body is in, so a client
          // still writing it reads the 413 instead of a reset. The node closes at once
          // (@hono/node-server ends the answer itself), so it is asked on a keep-alive
          // connection, where it reads the rest away.
          const response = await fetch(`${target.service.url}/data`, {
            method: 'POST',
            headers: {
              'content-type': 'application/json',
              connection: target.name === 'node' ? 'keep-alive' : 'close',
            },
            body: body(),
            duplex: 'half',
          } as RequestInit).catch((error: Error) => {
            throw new Error(`${target.name}, round ${round}: ${error.message} (${String(error.cause)})`);
          });
          await expectOwn413(target, response);
        }
        // Through a proxy the node saw nothing but this /stats read.
        if (target.name !== 'node' && !forwarded)
          expect((await nodeStats(node)).requests_total, target.name).toBe(before.requests_total + 1);
        await expectStillServing(target, label);
      }),
    );
  }
});

describe('refusals are counted like every other answer', () => {
  it(
    'http_requests_total has the 413s and 431s each service answered',
    each(async (target) => {
      const text = await (
        await fetch(`${target.service.url}/metrics`, { headers: { connection: 'close' } })
      ).text();
      for (const status of ['413', '431']) {
        const counted = text
          .split('\n')
          .filter((line) => line.startsWith('http_requests_total{') && line.includes(`status="${status}"`))
          .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
        expect(counted, `${target.name} ${status}s`).toBeGreaterThan(0);
      }
    }),
  );
});

describe('a 413 keeps the keep-alive connection: the rest of the body is read away', () => {
  it(
    'the next request on the same connection is served, by every service',
    each(async (target) => {
      // The node used to close after its 413 (@hono/node-server drained a refused body for
      // 500 ms, then closed), and a client still writing its body met EPIPE.
      const pool = new Pool(target.service.url, { connections: 1 });
      try {
        for (let round = 0; round < 10; round++) {
          const big = await pool.request({
            path: '/data',
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ key: 'big', value: 'v'.repeat(300_000) }),
          });
          expect(big.statusCode, target.name).toBe(413);
          expect(big.headers.connection, target.name).not.toBe('close');
          await big.body.dump();
          const small = await pool.request({
            path: '/data',
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ key: `k${round}`, value: 'v' }),
          });
          expect(small.statusCode, `${target.name} round ${round}`).toBe(200);
          await small.body.dump();
        }
      } finally {
        await pool.close();
      }
    }),
  );
});

describe('the consistent-hash balancer reads POST /data bodies itself (for the key)', () => {
  it('a chunked body over BODY_LIMIT → 413 read by the client (it was a reset), then served again', async () => {
    const hashing = await startRole('balancer', [], {
      UPSTREAMS: node.url,
      LB_STRATEGY: 'consistent-hash',
      LOG_LEVEL: 'error',
    });
    const target = { name: 'consistent-hash balancer', service: hashing, health: '/healthz' };
    for (let round = 0; round < 3; round++) {
      let sent = 0;
      const body = new ReadableStream<Uint8Array>({
        pull(controller) {
          if (sent++ >= 32) controller.close();
          else controller.enqueue(new Uint8Array(65_536).fill(0x78));
        },
      });
      const response = await fetch(`${hashing.url}/data`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
        duplex: 'half',
      } as RequestInit);
      expect(response.status).toBe(413);
      expect(await response.json()).toMatchObject({
        detail: 'the request body is larger than BODY_LIMIT (65536 bytes)',
      });
      await expectStillServing(target, 'a 2 MiB chunked body');
    }
    await hashing.stop();
  });
});

describe('invalid JSON and wrong types → 422 with the reasons', () => {
  const post = (target: Target, body: string) =>
    fetch(`${target.service.url}/data`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', connection: 'close' },
      body,
    });

  it(
    'not JSON',
    each(async (target) => {
      const response = await post(target, '{"key": ');
      expect(response.status, target.name).toBe(422);
      expect(await response.json()).toEqual({
        detail: [{ message: 'body must be JSON: {"key": string, "value": string}' }],
      });
    }),
  );

  const wrong: [string, string, (string | number)[]][] = [
    ['a number for key, an array for value', JSON.stringify({ key: 1, value: [] }), ['key']],
    ['an array', '[]', []],
    ['null', 'null', []],
    ['no value', JSON.stringify({ key: 'k' }), ['value']],
    ['an empty key', JSON.stringify({ key: '', value: 'v' }), ['key']],
    ['a key over 1024 characters', JSON.stringify({ key: 'k'.repeat(1025), value: 'v' }), ['key']],
  ];
  for (const [label, body, path] of wrong) {
    it(
      label,
      each(async (target) => {
        const response = await post(target, body);
        expect(response.status, `${target.name}: ${label}`).toBe(422);
        const { detail } = (await response.json()) as { detail: { path: unknown[]; message: string }[] };
        expect(detail[0]?.path).toEqual(path);
        expect(detail[0]?.message).toEqual(expect.any(String));
      }),
    );
  }

  it(
    'deeply nested JSON under the size limit is refused, not a stack overflow',
    each(async (target) => {
      const response = await post(target, `${'['.repeat(30_000)}${']'.repeat(30_000)}`);
      expect(response.status, target.name).toBe(422);
      await expectStillServing(target, 'deeply nested JSON');
    }),
  );

  it('admin PUT: not JSON → 400, wrong type → 400 with issues, unknown field → 400, nothing changed', async () => {
    for (const target of targets) {
      const put = (body: string) =>
        fetch(`${target.service.url}/admin/config`, {
          method: 'PUT',
          headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
          body,
        });
      const before = await (
        await fetch(`${target.service.url}/admin/config`, {
          headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
        })
      ).json();
      const notJson = await put('{"loadFactor":');
      expect(notJson.status, target.name).toBe(400);
      expect(await notJson.json()).toEqual({ error: 'body must be a JSON object' });
      const wrongType = await put(
        JSON.stringify(
          target.name === 'node'
            ? { loadFactor: 'x' }
            : target.name === 'balancer'
              ? { strategy: 42 }
              : { policies: { default: { algorithm: 'nope', limit: -1 } } },
        ),
      );
      expect(wrongType.status, target.name).toBe(400);
      const body = (await wrongType.json()) as { error: string; issues: unknown[] };
      expect(body.error).toMatch(/nothing was changed/);
      expect(body.issues.length).toBeGreaterThan(0);
      const unknown = await put(JSON.stringify({ isAdmin: true }));
      expect(unknown.status, target.name).toBe(400);
      const after = await (
        await fetch(`${target.service.url}/admin/config`, {
          headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
        })
      ).json();
      expect(after).toEqual(before);
    }
  });
});

describe('unicode and control characters in keys and paths', () => {
  const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
  const keys = [
    'ключ-🔑',
    'nul\u0000inside',
    'tab\tnewline\nreturn\r',
    'bidi-\u202e-override',
    'lone-\ud800-surrogate',
    'emoji-👩‍👩‍👧-zwj',
    '__proto__',
    'constructor',
    'a/b/../c',
    '%2e%2e',
    'x'.repeat(1024),
  ];

  it(
    'are stored and read back exactly, through every service',
    each(async (target) => {
      for (const key of keys) {
        const value = `value of ${key} \u0001 ✓`;
        const stored = await fetch(`${target.service.url}/data`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ key, value }),
        });
        expect(stored.status, `${target.name} POST ${JSON.stringify(key)}`).toBe(200);
        expect(await stored.json()).toMatchObject({ status: 'stored', key, value });
        // A lone surrogate cannot be percent-encoded (it is not UTF-8): stored, echoed, not addressable by path.
        if (LONE_SURROGATE.test(key)) continue;
        const read = await fetch(`${target.service.url}/data/${encodeURIComponent(key)}`);
        expect(read.status, `${target.name} GET ${JSON.stringify(key)}`).toBe(200);
        expect(await read.json()).toMatchObject({ key, value });
      }
    }),
  );

  it(
    'invalid or odd percent-encodings in a key path are a 404 naming the key, never a 5xx',
    each(async (target) => {
      for (const path of ['/data/%ff', '/data/%', '/data/%zz', '/data/%c3%28', '/data/%00']) {
        const answer = await sendRaw(target.service.port, GET(path));
        expect(answer.statuses, `${target.name} ${path}`).toEqual([404]);
        expect(answer.firstBody).toMatch(/not found on Node h1/);
      }
      await expectStillServing(target, 'odd percent-encodings');
    }),
  );
});

describe("path traversal: a node's /admin and /metrics are never reachable through a proxy", () => {
  const auth = `Authorization: Bearer ${ADMIN_TOKEN}\r\n`;
  // Targets a node would normalise into /admin or /metrics: the proxies refuse them (400).
  const refused = [
    '/../admin/config',
    '/x/../admin/config',
    '/./admin/config',
    '/%2e%2e/admin/config',
    '/%2E/admin/config',
    '/.%2e/metrics',
    '/%61dmin/config',
    '/%6detrics',
    '/x/../metrics',
    '/./metrics',
    '/metrics#x',
    '/admin/config#/x',
    '/health#/../../metrics',
    '/admin\\config',
    '/data/..',
  ];
  // Targets a node does not route to its control plane: forwarded, and the node says 404.
  const notFound = [
    '//admin/config',
    '//metrics',
    '/%2fadmin/config',
    '/admin%2fconfig',
    '/ADMIN/config',
    '/admin;/config',
    '/Metrics',
  ];

  it('refused forms → 400 naming the problem, from the proxy itself', async () => {
    for (const target of proxies) {
      for (const path of refused) {
        const answer = await sendRaw(target.service.port, GET(path, auth));
        const label = `${target.name} ${path}`;
        if (path === '/admin/config#/x') {
          // The proxy's own admin route (it answers /admin itself): its config, not a node's.
          expect(answer.statuses, label).toEqual([200]);
          expect(answer.firstBody).not.toContain('loadFactor');
          continue;
        }
        expect(answer.statuses, label).toEqual([400]);
        expect(answer.firstBody, label).toMatch(/"detail":"request (target|path) must not/);
        expect(answer.text, label).not.toMatch(/x-node-id/i);
      }
      await expectStillServing(target, 'traversal attempts');
    }
  });

  it('other spellings are forwarded and the node answers 404 (its admin and metrics stay unmatched)', async () => {
    for (const target of proxies) {
      for (const path of notFound) {
        const answer = await sendRaw(target.service.port, GET(path, auth));
        const label = `${target.name} ${path}`;
        expect(answer.statuses, label).toEqual([404]);
        expect(answer.firstBody, label).not.toContain('loadFactor');
        expect(answer.firstBody, label).not.toContain('# HELP');
      }
    }
  });

  it("/admin and /metrics at a proxy are the proxy's own, never a node's", async () => {
    for (const target of proxies) {
      const config = await sendRaw(target.service.port, GET('/admin/config', auth));
      expect(config.statuses).toEqual([200]);
      expect(config.firstBody).not.toContain('loadFactor');
      const metrics = await sendRaw(target.service.port, GET('/metrics'));
      expect(metrics.statuses).toEqual([200]);
      expect(metrics.firstBody).toContain(`service="${target.name}"`);
      expect(metrics.firstBody).not.toContain('lab_node_active_requests');
    }
  });

  it('the node itself normalises the same spellings (which is why the proxies must refuse them)', async () => {
    const answer = await sendRaw(node.port, GET('/x/../admin/config', auth));
    expect(answer.statuses).toEqual([200]);
    expect(answer.firstBody).toContain('loadFactor');
  });
});

describe('request smuggling through the proxies → 400, and the node never sees the smuggled request', () => {
  /** A request that stores `key` on the node: the smuggled payload. */
  const smuggled = (key: string) => {
    const body = JSON.stringify({ key, value: 'smuggled' });
    return `POST /data HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
  };
  const framings: [string, (payload: string) => string][] = [
    [
      'Content-Length and Transfer-Encoding (CL.TE)',
      (p) =>
        `POST /data HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n${p}`,
    ],
    [
      'Transfer-Encoding and Content-Length (TE.CL)',
      (p) =>
        `POST /data HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n${(p.length).toString(16)}\r\n${p}\r\n0\r\n\r\n`,
    ],
    [
      'two different Content-Lengths',
      (p) => `POST /data HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nContent-Length: ${p.length}\r\n\r\n${p}`,
    ],
    [
      'two equal Content-Lengths',
      (p) => `POST /data HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nContent-Length: 0\r\n\r\n${p}`,
    ],
    [
      'Content-Length: 0, 40 in one field',
      (p) => `POST /data HTTP/1.1\r\nHost: x\r\nContent-Length: 0, ${p.length}\r\n\r\n${p}`,
    ],
    [
      'Transfer-Encoding: chunked, identity',
      (p) => `POST /data HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n${p}`,
    ],
    [
      'Transfer-Encoding: identity',
      (p) => `POST /data HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: identity\r\n\r\n${p}`,
    ],
    [
      'Transfer-Encoding: xchunked',
      (p) => `POST /data HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n${p}`,
    ],
    [
      'two Transfer-Encoding fields',
      (p) =>
        `POST /data HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n0\r\n\r\n${p}`,
    ],
    [
      'a space before the colon (Transfer-Encoding : chunked)',
      (p) =>
        `POST /data HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n${p}`,
    ],
    [
      'an obs-folded Transfer-Encoding',
      (p) =>
        `POST /data HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n${p}`,
    ],
    [
      'Content-Length with a sign',
      (p) => `POST /data HTTP/1.1\r\nHost: x\r\nContent-Length: +5\r\n\r\n0\r\n\r\n${p}`,
    ],
    [
      'a chunk size with junk after it',
      (p) => `POST /data HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0 x\r\n\r\n${p}`,
    ],
  ];

  for (const [label, frame] of framings) {
    it(label, async () => {
      for (const target of proxies) {
        const key = `smuggled-${target.name}-${label.replace(/\W+/g, '-')}`;
        const answer = await sendRaw(target.service.port, frame(smuggled(key)));
        expect(answer.statuses, `${target.name}: ${label}`).toEqual([400]);
        expect(answer.closed).toBe(true);
        const onNode = await fetch(`${node.url}/data/${key}`);
        expect(onNode.status, `${target.name}: ${label}: the node stored the smuggled key`).toBe(404);
        await expectStillServing(target, label);
      }
    });
  }

  it('a GET whose body is a whole request: one answer, the body never runs as a request', async () => {
    for (const target of proxies) {
      const key = `in-body-${target.name}`;
      const payload = smuggled(key);
      const before = await nodeStats(node);
      const answer = await sendRaw(
        target.service.port,
        `GET /stats HTTP/1.1\r\nHost: x\r\nContent-Length: ${payload.length}\r\nConnection: close\r\n\r\n${payload}`,
      );
      expect(answer.statuses, target.name).toEqual([200]);
      expect((await fetch(`${node.url}/data/${key}`)).status).toBe(404);
      const after = await nodeStats(node);
      // This GET /stats, then our own /stats read; never a POST /data in between.
      expect(after.keys).toBe(before.keys);
    }
  });
});

describe('admin API: never a 5xx, whatever the token', () => {
  const cases: [string, string, number][] = [
    ['no token', '', 401],
    ['a wrong token', 'Authorization: Bearer not-the-token\r\n', 401],
    [
      'the right token under the Basic scheme',
      `Authorization: Basic ${Buffer.from(`admin:${ADMIN_TOKEN}`).toString('base64')}\r\n`,
      401,
    ],
    ['the token without a scheme', `Authorization: ${ADMIN_TOKEN}\r\n`, 401],
    ['an empty bearer token', 'Authorization: Bearer \r\n', 401],
    ['the token with a trailing byte', `Authorization: Bearer ${ADMIN_TOKEN}x\r\n`, 401],
    [
      'two Authorization fields, one right',
      `Authorization: Bearer wrong\r\nAuthorization: Bearer ${ADMIN_TOKEN}\r\n`,
      401,
    ],
    [
      'a 15 KiB token (inside the 16 KiB header limit)',
      `Authorization: Bearer ${'t'.repeat(15 * 1024)}\r\n`,
      401,
    ],
    ['a 64 KiB token (over the header limit)', `Authorization: Bearer ${'t'.repeat(64 * 1024)}\r\n`, 431],
    [
      'a token with non-ASCII bytes',
      `Authorization: Bearer ${Buffer.from('tést-tøken-ü').toString('latin1')}\r\n`,
      401,
    ],
  ];

  for (const [label, header, status] of cases) {
    it(
      `${label} → ${status} (admin on), 404 or 431 with the admin API off`,
      each(async (target) => {
        const answer = await sendRaw(target.service.port, GET('/admin/config', header));
        expect(answer.statuses, `${target.name}: ${label}`).toEqual([status]);
        if (status === 401) {
          expect(answer.text).toMatch(/www-authenticate: Bearer realm="admin"/i);
          expect(answer.firstBody).toContain('unauthorized');
        }
        const off = await sendRaw(adminOff.port, GET('/admin/config', header));
        expect(off.statuses, `admin off: ${label}`).toEqual([status === 431 ? 431 : 404]);
        await expectStillServing(target, label);
      }),
    );
  }

  it('PUT without a token changes nothing (401), and the right token still works', async () => {
    for (const target of targets) {
      const body = JSON.stringify({ loadFactor: 35 });
      const refused = await fetch(`${target.service.url}/admin/config`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json', authorization: 'Bearer nope-nope' },
        body,
      });
      expect(refused.status, target.name).toBe(401);
      const ok = await fetch(`${target.service.url}/admin/config`, {
        headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
      });
      expect(ok.status, target.name).toBe(200);
      expect(JSON.stringify(await ok.json())).not.toContain('"loadFactor":35');
    }
  });
});
