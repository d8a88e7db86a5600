/**
 * @module
 * Random rate-limit policies documents for the fuzz properties: valid ones (with the
 * path of every leaf, so a test can break one on purpose), near-valid ones (each field
 * sometimes out of bounds or of the wrong type) and YAML text with the hazards a
 * policies file can hold (aliases, tags, duplicate keys, deep nesting).
 */
import fc from 'fast-check';
import { ALGORITHM_NAMES } from '../../services/limiter/algorithms/index.js';

const validWindow = fc.oneof(
  fc.integer({ min: 1, max: 7 * 86_400_000 }),
  fc.integer({ min: 1, max: 3600 }).map((s) => `${s}s`),
  fc.integer({ min: 1, max: 999 }).map((ms) => `${ms}ms`),
  fc.constantFrom('1m30s', '1h', '7d', '1d', '60s', '0.5s'),
);
const count = fc.integer({ min: 1, max: 1_000_000 });
const clientName = fc
  .stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{0,20}$/)
  .filter((n) => n !== 'default' && n !== 'anonymous');

/** A policy that must compile. */
export const validPolicyArb = fc.oneof(
  { weight: 1, arbitrary: fc.constant({ exempt: true } as Record<string, unknown>) },
  {
    weight: 6,
    arbitrary: fc.record(
      { algorithm: fc.constantFrom(...ALGORITHM_NAMES), limit: count, window: validWindow, burst: count },
      { requiredKeys: ['algorithm', 'limit', 'window'] },
    ) as fc.Arbitrary<Record<string, unknown>>,
  },
);

/** A document that must compile: a default (or none) and clients with distinct names and keys. */
export const validPoliciesArb = fc
  .record(
    {
      default: validPolicyArb,
      clients: fc.uniqueArray(fc.tuple(clientName, validPolicyArb), {
        maxLength: 5,
        selector: ([name]) => name,
      }),
    },
    { requiredKeys: ['clients'] },
  )
  .map(({ default: d, clients }) => ({
    ...(d === undefined ? {} : { default: d }),
    clients: Object.fromEntries(clients),
  }));

/** Values a field can hold when it is wrong: out of bounds, wrong type, nonsense. */
export const badValueArb = fc.oneof(
  fc.constantFrom(
    0,
    -1,
    1.5,
    1_000_001,
    Number.MAX_SAFE_INTEGER,
    '10',
    '',
    'soon',
    '3 parsecs',
    null,
    [],
    {},
    true,
  ),
  fc.string({ maxLength: 12 }),
  fc.double({ noNaN: true }),
);

/** Each policy field valid or not, unknown fields sometimes. */
const nearPolicyArb = fc.record(
  {
    exempt: fc.oneof(fc.boolean(), badValueArb),
    algorithm: fc.oneof(fc.constantFrom(...ALGORITHM_NAMES), badValueArb),
    limit: fc.oneof(count, badValueArb),
    window: fc.oneof(validWindow, badValueArb),
    burst: fc.oneof(count, badValueArb),
    key: fc.oneof(fc.string({ maxLength: 10 }), badValueArb, fc.constant('x'.repeat(300))),
    rate: badValueArb,
  },
  { requiredKeys: [] },
);

/** Near-valid documents: the right shape with wrong parts, or any JSON at all. */
export const nearPoliciesArb: fc.Arbitrary<unknown> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record(
      {
        default: fc.oneof(nearPolicyArb, badValueArb),
        clients: fc.oneof(
          fc.dictionary(
            fc.oneof(
              clientName,
              fc.string({ maxLength: 8 }),
              fc.constantFrom('default', 'anonymous', '__proto__', 'constructor', 'a'.repeat(70)),
            ),
            fc.oneof(nearPolicyArb, validPolicyArb, badValueArb),
            { maxKeys: 4 },
          ),
          badValueArb,
        ),
        extra: badValueArb,
      },
      { requiredKeys: [] },
    ),
  },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 4 }) },
);
