/**
 * Fuzz over real sockets: raw HTTP/1.1 requests (odd methods, raw UTF-8 and traversal in
 * the target, conflicting framing, random headers and bodies) to real processes: a node,
 * the balancer in front of two nodes, and the limiter in front of the balancer.
 *
 * The nodes never fail on purpose (FAIL_RATE=0, no latency), so any 5xx is a finding;
 * the message says whether a node sent it (`X-Node-ID`) or the proxy did. After
 * every case the service answers its health path, and its process is alive. Limiter
 * answers carry `RateLimit-Policy`/`RateLimit` as Structured Field Items; a 429 carries
 * `Retry-After` and a problem+json body. A node's `/metrics` and `/admin` never answer
 * through a proxy. Settings (cases, seed, replay) come from tests/helpers/fuzz.ts.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { type Item, parseItem } from 'structured-headers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fuzz } from './helpers/fuzz.js';
import { type FuzzRequest, rawRequestArb } from './helpers/fuzz-http.js';
import { ADMIN_TOKEN, type ServiceProcess, startRole, stopAll } from './helpers/processes.js';
import { type Framing, type RawResponse, rawRequest } from './helpers/raw-http.js';

const POLICIES = `
default: { algorithm: token-bucket, limit: 5, window: 1s }
clients:
  good-user: { algorithm: sliding-window-counter, limit: 1000, window: 1s }
  tiny: { algorithm: fixed-window, limit: 1, window: 60s }
  partner: { exempt: true }
`;

let dir: string;
let node1: ServiceProcess;
let node2: ServiceProcess;
let balancer: ServiceProcess;
let limiter: ServiceProcess;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fuzz-proxies-'));
  const policies = join(dir, 'policies.yaml');
  writeFileSync(policies, POLICIES);
  const quiet = { LOG_LEVEL: 'warn' };
  [node1, node2] = await Promise.all([
    startRole('node', ['--id', '1'], quiet),
    startRole('node', ['--id', '2'], quiet),
  ]);
  balancer = await startRole(
    'balancer',
    ['--upstreams', `${node1.url},${node2.url}`, '--strategy', 'consistent-hash'],
    quiet,
  );
  limiter = await startRole(
    'limiter',
    ['--upstream', balancer.url, '--rate-limit-policies', policies, '--rate-limit-legacy-headers', 'true'],
    // Debug: a failure message quotes the end of its log, retries included.
    { LOG_LEVEL: 'debug' },
  );
});

afterAll(async () => {
  await stopAll();
  rmSync(dir, { recursive: true, force: true });
});

const framingArb: fc.Arbitrary<Framing> = fc.constantFrom(
  'content-length',
  'content-length',
  'chunked',
  'both',
);
const caseArb = fc.array(fc.tuple(rawRequestArb(ADMIN_TOKEN), framingArb), { minLength: 1, maxLength: 3 });

const describeRequest = (r: FuzzRequest, framing: Framing) => {
  const target = r.target.length > 100 ? `${r.target.slice(0, 100)}…(${r.target.length})` : r.target;
  return `${r.method} ${JSON.stringify(target)} (${r.body?.length ?? 'no'} body bytes, ${framing})`;
};

/** The checks every answer passes, whichever service gave it. */
function checkCommon(response: RawResponse | undefined, request: FuzzRequest, label: string): void {
  if (response === undefined) {
    // Only a request the server has no handler for ends without an answer.
    expect(request.method, label).toBe('CONNECT');
    return;
  }
  if (response.status >= 500) {
    // A node sets X-Node-ID on every answer; a proxy's own 502/504 names the upstream tried.
    const tried = response.headers['x-upstream'] ? `, upstream tried: ${response.headers['x-upstream']}` : '';
    const from = response.headers['x-node-id']
      ? `passed through from node ${response.headers['x-node-id']}`
      : `the proxy's own${tried}`;
    throw new Error(
      `${label}: ${response.status} (${from}): ${response.body.toString('utf8').slice(0, 300)}`,
    );
  }
  const type = response.headers['content-type'] ?? '';
  if (request.method !== 'HEAD' && /json/.test(type) && response.body.length > 0) {
    expect(() => JSON.parse(response.body.toString('utf8')), label).not.toThrow();
  }
}

/** A node's own control routes must never answer through a proxy. */
function checkNotNodeControl(response: RawResponse | undefined, label: string): void {
  if (!response?.headers['x-upstream'] || response.status !== 200) return;
  const body = response.body.toString('utf8');
  expect(body, `${label}: a node's /metrics answered through the proxy`).not.toMatch(/^# (HELP|TYPE) /m);
  expect(body, `${label}: a node's /admin answered through the proxy`).not.toMatch(/"loadFactor"/);
}

/** The end of a service's log, for a failure message. */
const tail = (service: ServiceProcess) => `${service.stdout()}${service.stderr()}`.slice(-1500);

async function healthy(service: ServiceProcess, path: string): Promise<void> {
  expect(service.proc.exitCode, `${service.url} exited:\n${service.stderr()}`).toBeNull();
  const response = await rawRequest(service.port, { method: 'GET', target: path, headers: [] });
  expect(response?.status, `${service.url}${path} after the case`).toBe(200);
}

/** Structured Field Item parameters, as numbers. */
function params(item: Item): Record<string, unknown> {
  return Object.fromEntries(item[1]);
}

function checkRateLimitFields(response: RawResponse, request: FuzzRequest, label: string): void {
  const apiKey = request.headers.find(([name]) => name.toLowerCase() === 'x-api-key')?.[1];
  const policyField = response.headers['ratelimit-policy'];
  const field = response.headers.ratelimit;
  // Through the limiter's data plane (a 429, or an upstream answer) to a client with a quota.
  const limited = response.status === 429 || response.headers['x-upstream'] !== undefined;
  if (limited && apiKey !== 'partner') {
    expect(policyField, `${label}: RateLimit-Policy`).toBeDefined();
    expect(field, `${label}: RateLimit`).toBeDefined();
  }
  if (policyField !== undefined) {
    const p = params(parseItem(policyField));
    expect(Number.isInteger(p.q) && (p.q as number) > 0, `${label}: ${policyField}`).toBe(true);
    expect(Number.isInteger(p.w) && (p.w as number) > 0, `${label}: ${policyField}`).toBe(true);
  }
  if (field !== undefined) {
    const p = params(parseItem(field));
    expect(Number.isInteger(p.r) && (p.r as number) >= 0, `${label}: ${field}`).toBe(true);
    expect(Number.isInteger(p.t) && (p.t as number) >= 0, `${label}: ${field}`).toBe(true);
  }
  if (response.status === 429) {
    expect(response.headers['retry-after'], `${label}: Retry-After`).toMatch(/^\d+$/);
    expect(response.headers['content-type']).toBe('application/problem+json');
    if (request.method !== 'HEAD') {
      const problem = JSON.parse(response.body.toString('utf8')) as { status: number };
      expect(problem.status).toBe(429);
    }
  }
}

describe('fuzz over real sockets', () => {
  it('node: any raw request gets a well-formed answer below 500, and /health afterwards', async () => {
    await fuzz(
      'processes.node',
      fc.asyncProperty(caseArb, async (requests) => {
        for (const [request, framing] of requests) {
          const label = `node: ${describeRequest(request, framing)}`;
          const response = await rawRequest(node1.port, { ...request, framing });
          checkCommon(response, request, label);
        }
        await healthy(node1, '/health');
      }),
      { runs: 60 },
    );
  });

  it('balancer: any raw request gets a well-formed answer below 500, never from a node control route, and /healthz afterwards', async () => {
    await fuzz(
      'processes.balancer',
      fc.asyncProperty(caseArb, async (requests) => {
        for (const [request, framing] of requests) {
          const label = `balancer: ${describeRequest(request, framing)}`;
          const response = await rawRequest(balancer.port, { ...request, framing });
          checkCommon(response, request, label);
          checkNotNodeControl(response, label);
        }
        await healthy(balancer, '/healthz');
        await healthy(node1, '/health');
        await healthy(node2, '/health');
      }),
      { runs: 60 },
    );
  });

  it('limiter: any raw request gets a well-formed answer below 500 with parseable RateLimit fields, and /healthz afterwards', async () => {
    const seen = { limited: 0, upstream: 0 };
    await fuzz(
      'processes.limiter',
      fc.asyncProperty(caseArb, async (requests) => {
        for (const [request, framing] of requests) {
          const label = `limiter: ${describeRequest(request, framing)}`;
          const response = await rawRequest(limiter.port, { ...request, framing }).catch(
            async (error: Error) => {
              const state = await fetch(`${balancer.url}/admin/state`, {
                headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
              }).then((r) => r.text());
              const metrics = await fetch(`${limiter.url}/metrics`).then((r) => r.text());
              throw new Error(
                `${error.message}\nlimiter log: ${tail(limiter)}\nbalancer log: ${tail(balancer)}\nbalancer state: ${state}\n` +
                  metrics
                    .split('\n')
                    .filter((l) => /^(http_requests_total|lab_ratelimit_decisions_total)/.test(l))
                    .join('\n'),
              );
            },
          );
          checkCommon(response, request, label);
          checkNotNodeControl(response, label);
          if (response) checkRateLimitFields(response, request, label);
          if (response?.status === 429) seen.limited++;
          if (response?.headers['x-upstream']) seen.upstream++;
        }
        await healthy(limiter, '/healthz');
        await healthy(balancer, '/healthz');
      }),
      { runs: 60 },
    );
    // Not vacuous: some answers were the limiter's 429s, some came from the nodes.
    expect(seen.limited).toBeGreaterThan(0);
    expect(seen.upstream).toBeGreaterThan(0);
  });
});

describe('findings of the fuzzer (regressions)', () => {
  it('a HEAD request with a body is a 400 from either proxy, never a 502 now and then', async () => {
    const body = new Uint8Array(90_000).fill(118);
    for (const service of [balancer, limiter]) {
      for (const framing of ['chunked', 'content-length'] as const) {
        for (let i = 0; i < 10; i++) {
          const response = await rawRequest(service.port, {
            method: 'HEAD',
            target: `/${'k'.repeat(2545)}`,
            headers: [['X-API-Key', 'partner']],
            body,
            framing,
          });
          expect(response?.status, `${service.url} ${framing}`).toBe(400);
        }
      }
    }
    await healthy(balancer, '/healthz');
    await healthy(limiter, '/healthz');
  });
});
