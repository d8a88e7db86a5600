/**
 * Fuzz: the node's whole HTTP surface through `app.request()` (no sockets), and its
 * `PUT /admin/config` against a model of what the update should do.
 * Settings (cases, seed, replay) come from tests/helpers/fuzz.ts.
 */
import fc from 'fast-check';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { fuzz } from '../../tests/helpers/fuzz.js';
import { fetchRequestArb, toRequestInit } from '../../tests/helpers/fuzz-http.js';
import { loadConfig } from '../shared/config.js';
import { createLogger } from '../shared/logger.js';
import { createMetrics } from '../shared/metrics.js';
import { createNodeApp } from './app.js';
import { nodeConfigShape, nodeConfigSources } from './config.js';

const TOKEN = 'node-fuzz-token';

function build() {
  const config = loadConfig(nodeConfigShape, {
    env: { NODE_ID: 'f', ADMIN_TOKEN: TOKEN },
    sources: nodeConfigSources,
  });
  const errors: string[] = [];
  const log = createLogger('node-f', 'error', (line) => errors.push(line));
  const metrics = createMetrics('node', { registry: new Registry(), defaultMetrics: false });
  // random() = 1 is never below failRate (at most 1): no simulated 500 can appear.
  return { app: createNodeApp({ config, metrics, log, random: () => 1 }), errors };
}

/** Reads the body whole and checks it is what the headers say. */
async function wellFormed(response: Response, method: string): Promise<void> {
  const text = await response.text();
  expect(response.headers.get('x-node-id')).toBe('f');
  if (method === 'HEAD') return;
  if (response.headers.get('content-type')?.startsWith('application/json')) {
    expect(() => JSON.parse(text), text.slice(0, 200)).not.toThrow();
  }
}

describe('node HTTP surface (fuzz)', () => {
  it('answers every request below 500 with a well-formed response, and /health afterwards', async () => {
    const { app, errors } = build();
    await fuzz(
      'node.surface',
      fc.asyncProperty(
        fc.array(fetchRequestArb('wrong-token-never-valid'), { minLength: 1, maxLength: 4 }),
        async (requests) => {
          for (const request of requests) {
            const response = await app.request(request.target, toRequestInit(request));
            expect(response.status, `${request.method} ${request.target}`).toBeLessThan(500);
            await wellFormed(response, request.method);
          }
          const health = await app.request('/health');
          expect(health.status).toBe(200);
          await health.arrayBuffer();
          expect(errors).toEqual([]);
        },
      ),
      { runs: 100 },
    );
  });
});

// ---- PUT /admin/config against a model --------------------------------------------

type Load = { loadFactor: number; latencyMs: number; failRate: number };
const KNOWN = { loadFactor: [0, 40, true], latencyMs: [0, 60_000, true], failRate: [0, 1, false] } as const;

/** The oracle: is this (JSON-decoded) body a valid partial update? */
function validPatch(body: unknown): body is Partial<Load> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return false;
  return Object.entries(body).every(([key, value]) => {
    const spec = KNOWN[key as keyof typeof KNOWN];
    if (!Object.hasOwn(KNOWN, key) || spec === undefined) return false;
    const [min, max, integer] = spec;
    return typeof value === 'number' && value >= min && value <= max && (!integer || Number.isInteger(value));
  });
}

const numberish = fc.oneof(
  fc.integer({ min: -5, max: 70_000 }),
  fc.double({ min: -1, max: 2, noNaN: true }),
  fc.constantFrom(0, 1, 40, 41, 60_000, 60_001, 0.5, -0, 1e-9, 1e308),
  fc.constantFrom('5', null, true, [], {}),
);
const patchArb = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record(
      { loadFactor: numberish, latencyMs: numberish, failRate: numberish },
      { requiredKeys: [] },
    ),
  },
  {
    weight: 1,
    arbitrary: fc.dictionary(
      fc.constantFrom('loadFactor', 'id', 'load_factor', '__proto__', 'constructor', 'x'),
      numberish,
    ),
  },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }) },
);
/** The body as sent: usually the JSON of a patch, sometimes text that is not JSON at all. */
const putBodyArb = fc.oneof(
  { weight: 8, arbitrary: patchArb.map((p) => JSON.stringify(p) ?? 'null') },
  {
    weight: 1,
    arbitrary: fc.constantFrom('', '{', '{"loadFactor":1,}', 'null', '\uFEFF{}', '{"failRate":NaN}'),
  },
  { weight: 1, arbitrary: fc.string({ maxLength: 30 }) },
);

describe('node PUT /admin/config (fuzz)', () => {
  it('applies a valid update, answers 400 to anything else and keeps the old config', async () => {
    await fuzz(
      'node.admin-config',
      fc.asyncProperty(fc.array(putBodyArb, { minLength: 1, maxLength: 6 }), async (bodies) => {
        const { app } = build();
        const auth = { authorization: `Bearer ${TOKEN}` };
        let model: Load & { id: string } = { id: 'f', loadFactor: 0, latencyMs: 0, failRate: 0 };
        for (const body of bodies) {
          const put = await app.request('/admin/config', {
            method: 'PUT',
            headers: { ...auth, 'content-type': 'application/json' },
            body,
          });
          let decoded: unknown;
          let json = true;
          try {
            // Like fetch's body.json(), the server ignores a leading byte-order mark.
            decoded = JSON.parse(body.replace(/^\uFEFF/, ''));
          } catch {
            json = false;
          }
          const valid = json && validPatch(decoded);
          expect(put.status, body.slice(0, 200)).toBe(valid ? 200 : 400);
          if (valid) model = { ...model, ...(decoded as Partial<Load>) };
          const now = await (await app.request('/admin/config', { headers: auth })).json();
          expect(now).toEqual(model);
        }
      }),
      { runs: 40 },
    );
  });
});
