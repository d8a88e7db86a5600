import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ConfigError, fields, loadConfig } from './config.js';
import { parseDuration } from './duration.js';

const shape = {
  port: fields.port(5001),
  host: fields.host(),
  loadFactor: z.coerce.number().int().min(0).max(40).default(0),
  id: z.string().default('1'),
  interval: fields.duration('2s'),
  verbose: fields.boolean(false),
};

function problems(run: () => unknown): string[] {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).problems;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig', () => {
  it('uses the defaults when nothing is set', () => {
    expect(loadConfig(shape, { env: {} })).toEqual({
      port: 5001,
      host: '127.0.0.1',
      loadFactor: 0,
      id: '1',
      interval: 2000,
      verbose: false,
    });
  });

  it('reads environment variables named after the fields', () => {
    const config = loadConfig(shape, {
      env: { PORT: '5002', LOAD_FACTOR: '30', INTERVAL: '500ms', VERBOSE: 'yes' },
    });
    expect(config).toMatchObject({ port: 5002, loadFactor: 30, interval: 500, verbose: true });
  });

  it('lets flags win over the environment, in both --flag value and --flag=value forms', () => {
    const config = loadConfig(shape, { env: { PORT: '5002' }, argv: ['--port', '5003', '--load-factor=25'] });
    expect(config).toMatchObject({ port: 5003, loadFactor: 25 });
  });

  it('treats empty environment variables as unset', () => {
    expect(loadConfig(shape, { env: { PORT: '' } }).port).toBe(5001);
  });

  it('honours overridden names', () => {
    const config = loadConfig(shape, {
      env: { NODE_ID: '7' },
      sources: { id: { env: 'NODE_ID', flag: '--id' } },
    });
    expect(config.id).toBe('7');
  });

  it('names the variable, the flag and the value in every problem', () => {
    const found = problems(() => loadConfig(shape, { env: { PORT: 'abc', LOAD_FACTOR: '99' } }));
    expect(found).toHaveLength(2);
    expect(found[0]).toMatch(/^PORT \(--port\): .*got "abc"/);
    expect(found[1]).toMatch(/^LOAD_FACTOR \(--load-factor\): .*40; got "99"/);
  });

  it('rejects out-of-range ports and bad durations and booleans', () => {
    expect(problems(() => loadConfig(shape, { env: { PORT: '70000' } }))[0]).toMatch(/^PORT/);
    expect(problems(() => loadConfig(shape, { env: { INTERVAL: 'soon' } }))[0]).toMatch(
      /^INTERVAL \(--interval\): expected a duration/,
    );
    expect(problems(() => loadConfig(shape, { env: { VERBOSE: 'maybe' } }))[0]).toMatch(
      /^VERBOSE .*true or false/,
    );
  });

  it('reports a missing required value as not set', () => {
    const found = problems(() => loadConfig({ upstream: z.string().url() }, { env: {} }));
    expect(found[0]).toMatch(/^UPSTREAM \(--upstream\): .*not set/);
  });

  it('rejects unknown flags and stray arguments', () => {
    expect(problems(() => loadConfig(shape, { env: {}, argv: ['--prot', '1'] }))[0]).toMatch(
      /unknown flag --prot/,
    );
    expect(problems(() => loadConfig(shape, { env: {}, argv: ['5001'] }))[0]).toMatch(
      /unexpected argument "5001"/,
    );
  });

  it('reads a bare flag as true', () => {
    expect(loadConfig(shape, { env: {}, argv: ['--verbose'] }).verbose).toBe(true);
  });
});

describe('parseDuration', () => {
  it.each([
    [1500, 1500],
    ['1500', 1500],
    ['250ms', 250],
    ['1.5s', 1500],
    ['2m', 120_000],
    ['1h', 3_600_000],
    ['1m30s', 90_000],
  ])('%s → %d ms', (input, expected) => {
    expect(parseDuration(input)).toBe(expected);
  });

  it('reads a bare number in the unit the caller gives (seconds on the CLIs)', () => {
    expect(parseDuration('10', 1000)).toBe(10_000);
    expect(parseDuration(2, 1000)).toBe(2_000);
  });

  it('throws on anything else', () => {
    for (const bad of ['-1s', '1 day', 's', '10 sec', '1m30', '']) {
      expect(() => parseDuration(bad), bad).toThrow(/expected a duration/);
    }
  });
});
