/**
 * @module
 * What every service's Hono app (the whole node; the proxies' control plane) must do
 * with any request, checked through `app.request()`: answer below 500, with a body that
 * is what its Content-Type says, and keep answering its health path.
 */
import fc from 'fast-check';
import type { Hono } from 'hono';
import { expect } from 'vitest';
import { fuzz } from './fuzz.js';
import { type FuzzRequest, fetchRequestArb, targetArb, toRequestInit } from './fuzz-http.js';

/** Targets under the control paths (`/healthz`, `/metrics`, `/admin/*`) more often than not. */
export const controlRequestArb = (adminToken: string): fc.Arbitrary<FuzzRequest> =>
  fc
    .tuple(
      fetchRequestArb(adminToken),
      fc.oneof(
        fc.constant(undefined),
        fc.constantFrom('/healthz', '/metrics', '/admin/config', '/admin/state', '/admin', '/admin/'),
        fc
          .tuple(fc.constantFrom('/healthz', '/metrics', '/admin', '/admin/config'), targetArb)
          .map(([prefix, rest]) => `${prefix}${rest}`),
      ),
    )
    .map(([request, target]) => (target === undefined ? request : { ...request, target }));

/** One Prometheus exposition line: a comment, or `name{labels} value`. */
const EXPOSITION_LINE = /^(#.*|[a-zA-Z_:][a-zA-Z0-9_:]*(\{.*\})? [^ ]+)$/;

/** Sends `request` and checks the answer; the caller checks health afterwards. */
export async function checkAnswer(app: Hono, request: FuzzRequest): Promise<Response> {
  const response = await app.request(request.target, toRequestInit(request));
  const label = `${request.method} ${request.target}`;
  expect(response.status, label).toBeLessThan(500);
  const text = await response.text();
  if (request.method === 'HEAD') return response;
  const type = response.headers.get('content-type') ?? '';
  if (type.startsWith('application/json')) expect(() => JSON.parse(text), label).not.toThrow();
  if (type.startsWith('text/plain') && response.status === 200 && request.target.startsWith('/metrics')) {
    for (const line of text.split('\n').filter(Boolean)) expect(line, label).toMatch(EXPOSITION_LINE);
  }
  if (response.status === 401) expect(response.headers.get('www-authenticate')).toMatch(/^Bearer /);
  return response;
}

/**
 * The control-plane property every proxy shares: sequences of requests (right, wrong and
 * oversized tokens) each get a well-formed answer below 500 (`checkAnswer`), `/healthz`
 * answers 200 afterwards, and nothing was logged as an error.
 */
export function fuzzControlPlane(
  name: string,
  { app, errors }: { app: Hono; errors: string[] },
  adminToken: string,
): Promise<unknown> {
  return fuzz(
    name,
    fc.asyncProperty(
      fc.array(controlRequestArb(adminToken), { minLength: 1, maxLength: 4 }),
      async (requests) => {
        for (const request of requests) await checkAnswer(app, request);
        const health = await app.request('/healthz');
        expect(health.status).toBe(200);
        await health.arrayBuffer();
        expect(errors).toEqual([]);
      },
    ),
    { runs: 80 },
  );
}
