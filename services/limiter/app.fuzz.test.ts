/**
 * Fuzz: the limiter's control plane (Hono: `/healthz`, `/metrics`, `/admin/*`) through
 * `app.request()`, and `PUT /admin/config {"policies": ...}`: a valid document is
 * applied (GET shows its compiled form), anything else is a 400 and the old policies
 * stay. The data plane is fuzzed over real sockets in tests/fuzz-proxies.test.ts.
 * Settings (cases, seed, replay) come from tests/helpers/fuzz.ts.
 */
import fc from 'fast-check';
import { Registry } from 'prom-client';
import { afterAll, describe, expect, it } from 'vitest';
import { fuzz } from '../../tests/helpers/fuzz.js';
import { fuzzControlPlane } from '../../tests/helpers/fuzz-control.js';
import { nearPoliciesArb, validPoliciesArb } from '../../tests/helpers/fuzz-policies.js';
import { loadConfig } from '../shared/config.js';
import { createLogger } from '../shared/logger.js';
import { createMetrics } from '../shared/metrics.js';
import { createLimiter, type Limiter } from './app.js';
import { limiterConfigShape } from './config.js';
import { compilePolicies, type PoliciesInput, unsupportedPolicies } from './policies.js';
import { createMemoryTable } from './stores/index.js';
import { SharedStore } from './stores/shared.js';

const TOKEN = 'limiter-fuzz-token';
const INITIAL: PoliciesInput = {
  default: { algorithm: 'fixed-window', limit: 3, window: '10s' },
  clients: { partner: { exempt: true } },
};
const built: Limiter[] = [];
afterAll(async () => {
  await Promise.all(built.map((l) => l.close()));
});

function build() {
  // Nothing listens on port 9: the data plane is not used here.
  const config = loadConfig(limiterConfigShape, {
    env: { ADMIN_TOKEN: TOKEN, UPSTREAM: 'http://127.0.0.1:9' },
  });
  const errors: string[] = [];
  const log = createLogger('limiter', 'error', (line) => errors.push(line));
  const metrics = createMetrics('limiter', { registry: new Registry(), defaultMetrics: false });
  // The memory store's table, as a limiter started with INITIAL sizes it.
  const store = new SharedStore(createMemoryTable(1000, compilePolicies(INITIAL, 'fuzz')), {
    sweepIntervalMs: 0,
  });
  const limiter = createLimiter({ config, policies: compilePolicies(INITIAL, 'fuzz'), store, metrics, log });
  built.push(limiter);
  return { app: limiter.app, errors, store };
}

describe('limiter control plane (fuzz)', () => {
  it('answers every request below 500 with a well-formed response, and /healthz afterwards', async () => {
    await fuzzControlPlane('limiter.control-surface', build(), TOKEN);
  });
});

/** The body as sent: `{"policies": <doc>}` mostly, other shapes and non-JSON sometimes. */
const bodyArb = fc.oneof(
  { weight: 4, arbitrary: validPoliciesArb.map((doc) => JSON.stringify({ policies: doc })) },
  { weight: 4, arbitrary: nearPoliciesArb.map((doc) => JSON.stringify({ policies: doc })) },
  {
    weight: 1,
    arbitrary: fc.oneof(
      fc.jsonValue({ maxDepth: 2 }).map((v) => JSON.stringify(v) ?? 'null'),
      fc.constantFrom(
        '',
        '{',
        '{}',
        '{"policies":null}',
        '{"policies":{},"extra":1}',
        '{"policies":{"clients":{"__proto__":{"exempt":true}}}}',
        `{"policies":${'['.repeat(5000)}${']'.repeat(5000)}}`,
      ),
    ),
  },
);

describe('limiter PUT /admin/config (fuzz)', () => {
  it('applies a valid policies document, answers 400 to anything else and keeps the old policies', async () => {
    await fuzz(
      'limiter.admin-config',
      fc.asyncProperty(fc.array(bodyArb, { minLength: 1, maxLength: 4 }), async (bodies) => {
        const { app, store } = build();
        const auth = { authorization: `Bearer ${TOKEN}` };
        let model: unknown = compilePolicies(INITIAL, 'fuzz').document;
        for (const body of bodies) {
          const put = await app.request('/admin/config', {
            method: 'PUT',
            headers: { ...auth, 'content-type': 'application/json' },
            body,
          });
          // The oracle: a JSON object with at most a `policies` key that compiles, into
          // policies the store can keep (a sliding log no longer than its table holds).
          let expected: unknown;
          let valid = false;
          try {
            const decoded = JSON.parse(body, (key, value) => {
              if (key === '__proto__') throw new Error('refused');
              return value;
            }) as unknown;
            if (typeof decoded === 'object' && decoded !== null && !Array.isArray(decoded)) {
              const keys = Object.keys(decoded);
              if (keys.length === 0) {
                valid = true;
                expected = model;
              } else if (keys.length === 1 && keys[0] === 'policies') {
                const compiled = compilePolicies((decoded as { policies: unknown }).policies, 'oracle');
                expected = compiled.document;
                valid = unsupportedPolicies(compiled, store).length === 0;
              }
            }
          } catch {
            valid = false;
          }
          expect(put.status, body.slice(0, 300)).toBe(valid ? 200 : 400);
          await put.arrayBuffer();
          if (valid) model = JSON.parse(JSON.stringify(expected));
          const now = (await (await app.request('/admin/config', { headers: auth })).json()) as {
            policies: unknown;
          };
          expect(now.policies).toEqual(model);
        }
      }),
      { runs: 30 },
    );
  });
});
