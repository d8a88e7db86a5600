/**
 * Fuzz: the balancer's control plane (Hono: `/healthz`, `/metrics`, `/admin/*`) through
 * `app.request()`, and `PUT /admin/config` against a model of what an update should do.
 * The data plane is fuzzed over real sockets in tests/fuzz-proxies.test.ts.
 * Settings (cases, seed, replay) come from tests/helpers/fuzz.ts.
 */
import fc from 'fast-check';
import { Registry } from 'prom-client';
import { afterAll, describe, expect, it } from 'vitest';
import { fuzz } from '../../tests/helpers/fuzz.js';
import { fuzzControlPlane } from '../../tests/helpers/fuzz-control.js';
import { loadConfig } from '../shared/config.js';
import { createLogger } from '../shared/logger.js';
import { createMetrics } from '../shared/metrics.js';
import { type Balancer, createBalancer } from './app.js';
import { balancerConfigShape, balancerConfigSources } from './config.js';
import { STRATEGY_NAMES } from './strategies/index.js';

const TOKEN = 'balancer-fuzz-token';
const NAMES = ['a', 'b'];
const built: Balancer[] = [];
afterAll(async () => {
  await Promise.all(built.map((b) => b.upstreams.close()));
});

function build() {
  const config = loadConfig(balancerConfigShape, {
    // Nothing listens on port 9: the data plane is not used here.
    env: { ADMIN_TOKEN: TOKEN, UPSTREAMS: 'a=http://127.0.0.1:9,b=http://127.0.0.1:9*2' },
    sources: balancerConfigSources,
  });
  const errors: string[] = [];
  const log = createLogger('balancer', 'error', (line) => errors.push(line));
  const metrics = createMetrics('balancer', { registry: new Registry(), defaultMetrics: false });
  const balancer = createBalancer({ config, metrics, log, upstreams: config.upstreams, random: () => 0.5 });
  built.push(balancer);
  return { app: balancer.app, errors };
}

describe('balancer control plane (fuzz)', () => {
  it('answers every request below 500 with a well-formed response, and /healthz afterwards', async () => {
    await fuzzControlPlane('balancer.control-surface', build(), TOKEN);
  });
});

// ---- PUT /admin/config against a model --------------------------------------------

interface Model {
  strategy: string;
  weights: Record<string, number>;
}

/** The oracle: is this JSON-decoded body a valid update for upstreams `a` and `b`? */
function validUpdate(body: unknown): body is Partial<Model> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return false;
  return Object.entries(body).every(([key, value]) => {
    if (key === 'strategy') return (STRATEGY_NAMES as string[]).includes(value as string);
    if (key !== 'weights') return false;
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
    return Object.entries(value).every(
      ([name, w]) =>
        NAMES.includes(name) && typeof w === 'number' && Number.isInteger(w) && w >= 1 && w <= 1000,
    );
  });
}

const weightArb = fc.oneof(
  fc.integer({ min: -2, max: 1002 }),
  fc.constantFrom(1.5, 0, 1000, 1001, '3', null, true, []),
);
const updateArb = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record(
      {
        strategy: fc.oneof(
          fc.constantFrom(...STRATEGY_NAMES),
          fc.constantFrom('fastest', '', 'Round-Robin', 3),
        ),
        weights: fc.oneof(
          fc.dictionary(
            fc.constantFrom('a', 'b', 'c', 'constructor', 'toString', '__proto__', ''),
            weightArb,
            {
              maxKeys: 3,
            },
          ),
          fc.constantFrom([], null, 'a=3'),
        ),
      },
      { requiredKeys: [] },
    ),
  },
  {
    weight: 1,
    arbitrary: fc.dictionary(
      fc.constantFrom('strategy', 'weights', 'x', 'upstreams'),
      fc.jsonValue({ maxDepth: 1 }),
    ),
  },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }) },
);
const bodyArb = fc.oneof(
  { weight: 9, arbitrary: updateArb.map((u) => JSON.stringify(u) ?? 'null') },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      '',
      '{',
      '{"strategy":"random",}',
      'null',
      '[]',
      '{"weights":{"__proto__":5}}',
    ),
  },
);

describe('balancer PUT /admin/config (fuzz)', () => {
  it('applies a valid update, answers 400 to anything else and keeps the old config', async () => {
    await fuzz(
      'balancer.admin-config',
      fc.asyncProperty(fc.array(bodyArb, { minLength: 1, maxLength: 5 }), async (bodies) => {
        const { app } = build();
        const auth = { authorization: `Bearer ${TOKEN}` };
        let model: Model = { strategy: 'round-robin', weights: { a: 1, b: 2 } };
        for (const body of bodies) {
          const put = await app.request('/admin/config', {
            method: 'PUT',
            headers: { ...auth, 'content-type': 'application/json' },
            body,
          });
          let decoded: unknown;
          let json = true;
          try {
            decoded = JSON.parse(body);
          } catch {
            json = false;
          }
          const valid = json && validUpdate(decoded);
          expect(put.status, body).toBe(valid ? 200 : 400);
          if (valid) {
            const update = decoded as Partial<Model>;
            model = {
              strategy: update.strategy ?? model.strategy,
              weights: { ...model.weights, ...update.weights },
            };
          }
          const now = (await (await app.request('/admin/config', { headers: auth })).json()) as Model;
          expect({ strategy: now.strategy, weights: now.weights }).toEqual(model);
        }
      }),
      { runs: 40 },
    );
  });
});

describe('balancer admin: findings of the fuzzer (regressions)', () => {
  it('{"weights": {"__proto__": 5}} is a 400, not a 200 that changed nothing', async () => {
    const { app } = build();
    const auth = { authorization: `Bearer ${TOKEN}` };
    for (const body of [
      '{"weights":{"__proto__":5}}',
      '{"weights":{"a":3,"__proto__":{"a":9}}}',
      '{"__proto__":{}}',
    ]) {
      const put = await app.request('/admin/config', { method: 'PUT', headers: auth, body });
      expect(put.status, body).toBe(400);
      expect(((await put.json()) as { error: string }).error).toMatch(/__proto__/);
    }
    const now = (await (await app.request('/admin/config', { headers: auth })).json()) as Model;
    expect(now.weights).toEqual({ a: 1, b: 2 });
  });
});
