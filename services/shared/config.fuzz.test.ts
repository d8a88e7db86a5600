/**
 * Fuzz: the config loader with random environments and flags (every service's shape),
 * and `parseDuration`. A config comes back, or a `ConfigError` naming the variable;
 * never another exception, never a value the service cannot use (a timer beyond what
 * `setTimeout` holds). Settings (cases, seed, replay) come from tests/helpers/fuzz.ts.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { fuzz } from '../../tests/helpers/fuzz.js';
import { balancerConfigShape, balancerConfigSources } from '../balancer/config.js';
import { limiterConfigShape } from '../limiter/config.js';
import { nodeConfigShape, nodeConfigSources } from '../node/config.js';
import { ConfigError, fieldSources, loadConfig, type SourceOverrides } from './config.js';
import { MAX_TIMER_MS, parseDuration } from './duration.js';

interface Service {
  name: string;
  shape: z.ZodRawShape;
  sources: SourceOverrides<z.ZodRawShape>;
}
const SERVICES: Service[] = [
  { name: 'node', shape: nodeConfigShape, sources: nodeConfigSources as SourceOverrides<z.ZodRawShape> },
  {
    name: 'balancer',
    shape: balancerConfigShape,
    sources: balancerConfigSources as SourceOverrides<z.ZodRawShape>,
  },
  { name: 'limiter', shape: limiterConfigShape, sources: {} },
];

/** Values that mean something to some field, and values that mean nothing to any. */
const valueArb = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.constantFrom(
      '0',
      '1',
      '5001',
      '65535',
      '65536',
      '-1',
      '1.5',
      '1e3',
      '0x10',
      ' 7 ',
      'NaN',
      'Infinity',
      '9'.repeat(400),
      '500ms',
      '2s',
      '1m30s',
      '7d',
      '30d',
      '99999999999d',
      '1.5.5s',
      '-5s',
      'true',
      'no',
      'maybe',
      'round-robin',
      'consistent-hash',
      'gcra',
      'memory',
      'redis',
      'open',
      'closed',
      'debug',
      'http://127.0.0.1:8081',
      'http://[::1]:1',
      'https://x.example',
      'redis://127.0.0.1:6379',
      'ftp://x',
      'a=http://h:1*3,http://h:2',
      'http://h:1,http://h:1',
      'node:8080',
      '10.0.0.0/8, ::1',
      '1.2.3.4/33',
      'config/policies.yaml',
      '/health',
      'x-hash-key',
      'lab:rl:',
    ),
  },
  { weight: 2, arbitrary: fc.string({ maxLength: 30 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 20 }) },
  { weight: 1, arbitrary: fc.integer().map(String) },
  { weight: 1, arbitrary: fc.double().map(String) },
);

/** Checks what `loadConfig` did: a usable config, or a ConfigError whose every line names a source. */
function check(service: Service, run: () => Record<string, unknown>, onlyEnv?: string) {
  const sources = fieldSources(service.shape, service.sources);
  const envs = new Set(Object.values(sources).map((s) => s.env));
  let config: Record<string, unknown>;
  try {
    config = run();
  } catch (error) {
    if (!(error instanceof ConfigError))
      throw new Error(`not a ConfigError: ${String(error)}`, { cause: error });
    expect(error.problems.length).toBeGreaterThan(0);
    for (const problem of error.problems) {
      const named = /^([A-Z0-9_]+) \((--[a-z0-9-]+)\): /.exec(problem);
      if (named) {
        expect(envs, problem).toContain(named[1]);
        if (onlyEnv !== undefined) expect(named[1], problem).toBe(onlyEnv);
      } else {
        expect(problem).toMatch(/^(unknown flag --|unexpected argument ")/);
      }
    }
    return;
  }
  for (const [key, value] of Object.entries(config)) {
    if (typeof value !== 'number') continue;
    expect(Number.isFinite(value), `${key} = ${value}`).toBe(true);
    // Durations and timeouts end up in timers.
    if (/(Interval|Timeout|Backoff|Ms)$/.test(key)) {
      expect(value, key).toBeLessThanOrEqual(MAX_TIMER_MS);
      expect(value, key).toBeGreaterThanOrEqual(0);
    }
  }
}

describe('loadConfig (fuzz)', () => {
  for (const service of SERVICES) {
    const sources = fieldSources(service.shape, service.sources);
    const envNames = Object.values(sources).map((s) => s.env);
    const flagNames = Object.values(sources).map((s) => s.flag);

    it(`${service.name}: one variable set to anything → a config, or a ConfigError naming that variable`, async () => {
      await fuzz(
        `config.${service.name}.one-variable`,
        fc.property(fc.constantFrom(...envNames), valueArb, (env, value) => {
          check(
            service,
            () => loadConfig(service.shape, { env: { [env]: value }, sources: service.sources }),
            env,
          );
        }),
        { runs: 100 },
      );
    });

    it(`${service.name}: random environment and flags → a config, or a ConfigError naming variables and flags`, async () => {
      const flagArb = fc.oneof(
        { weight: 6, arbitrary: fc.constantFrom(...flagNames) },
        { weight: 1, arbitrary: fc.constantFrom('--nope', '--PORT', '--', '---port', 'port', '-p', '') },
      );
      const argArb = fc
        .array(
          fc
            .tuple(flagArb, valueArb, fc.constantFrom('pair', 'equals', 'bare'))
            .map(([flag, value, form]) =>
              form === 'pair' ? [flag, value] : form === 'equals' ? [`${flag}=${value}`] : [flag],
            ),
          { maxLength: 4 },
        )
        .map((parts) => parts.flat());
      await fuzz(
        `config.${service.name}.env-and-flags`,
        fc.property(
          fc.dictionary(fc.constantFrom(...envNames), valueArb, { maxKeys: 6 }),
          argArb,
          (env, argv) => {
            check(service, () => loadConfig(service.shape, { env, argv, sources: service.sources }));
          },
        ),
        { runs: 100 },
      );
    });
  }
});

// ---- parseDuration ----------------------------------------------------------------

const UNITS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

describe('parseDuration (fuzz)', () => {
  it('a well-formed duration is the sum of its parts', async () => {
    const part = fc.tuple(
      fc.integer({ min: 0, max: 10_000 }),
      fc.constantFrom(...(Object.keys(UNITS) as (keyof typeof UNITS)[])),
    );
    await fuzz(
      'duration.sum-of-parts',
      fc.property(
        fc.array(part, { minLength: 1, maxLength: 4 }),
        fc.constantFrom('', ' ', '\t'),
        (parts, pad) => {
          const text = `${pad}${parts.map(([n, unit]) => `${n}${unit}`).join('')}${pad}`;
          const expected = parts.reduce((sum, [n, unit]) => sum + n * UNITS[unit], 0);
          expect(parseDuration(text)).toBe(expected);
        },
      ),
      { runs: 300 },
    );
  });

  it('any text: a finite, non-negative number of ms, or an Error naming the value', async () => {
    const text = fc.oneof(
      fc.string({ maxLength: 20 }),
      fc.stringMatching(/^[0-9.]{0,12}(ms|s|m|h|d|x|)([0-9.]{0,12}(ms|s|m|h|d))?$/),
      fc.integer({ min: 16, max: 500 }).map((n) => '9'.repeat(n)),
      fc.integer({ min: 16, max: 500 }).map((n) => `${'9'.repeat(n)}d`),
      fc.constantFrom('1e3', '-1s', '1.s', '.5s', 'Infinity', 'NaN', '0x10', '1_000', '１s'),
    );
    await fuzz(
      'duration.any-text',
      fc.property(text, fc.constantFrom(1, 1000), (value, bareUnit) => {
        let ms: number;
        try {
          ms = parseDuration(value, bareUnit);
        } catch (error) {
          expect(error).toBeInstanceOf(Error);
          expect((error as Error).message).toContain(`"${value}"`);
          return;
        }
        expect(Number.isFinite(ms), `${value} → ${ms}`).toBe(true);
        expect(ms).toBeGreaterThanOrEqual(0);
      }),
      { runs: 500 },
    );
  });
});

describe('durations: findings of the fuzzer (regressions)', () => {
  it('400 nines are a duration too large, not Infinity ms', () => {
    expect(() => parseDuration('9'.repeat(400))).toThrow(/duration too large/);
    expect(() => parseDuration(`${'9'.repeat(400)}d`)).toThrow(/duration too large/);
  });

  it('a duration beyond what setTimeout keeps (LB_HEALTH_INTERVAL=30d) is a ConfigError naming the variable', () => {
    expect(() =>
      loadConfig(balancerConfigShape, { env: { LB_HEALTH_INTERVAL: '30d' }, sources: balancerConfigSources }),
    ).toThrow(/LB_HEALTH_INTERVAL \(--health-interval\): must be at most 2147483647 ms/);
    expect(
      loadConfig(balancerConfigShape, { env: { LB_HEALTH_INTERVAL: '24d' }, sources: balancerConfigSources })
        .healthInterval,
    ).toBe(24 * 86_400_000);
  });
});
