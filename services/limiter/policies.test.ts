import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  compilePolicies,
  DEFAULT_POLICIES,
  loadPoliciesFile,
  PolicyError,
  policySettings,
} from './policies.js';

const dir = mkdtempSync(join(tmpdir(), 'policies-'));
function file(name: string, text: string) {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

function problemsOf(fn: () => unknown): { path: string; message: string }[] {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(PolicyError);
    return (error as PolicyError).problems;
  }
  throw new Error('expected a PolicyError');
}

describe('policies: configuration', () => {
  it('the example file compiles: default, a bigger internal quota, a strict client, an exempt partner', () => {
    const set = loadPoliciesFile('config/policies.yaml');
    expect(set.default.summary).toBe('10 requests per 1s (token-bucket)');
    expect(set.byKey.get('internal-config')?.summary).toBe('1000 requests per 60s (fixed-window)');
    expect(set.byKey.get('strict-client')?.algorithm?.name).toBe('sliding-window-log');
    expect(set.byKey.get('partner')?.algorithm).toBeUndefined();
    // A client with its own key: looked up by the key, named by its name.
    expect(set.byKey.get('lab-mobile-app-key-7f3a')?.name).toBe('mobile-app');
    expect(set.byKey.has('mobile-app')).toBe(false);
    expect(set.byKey.get('lab-mobile-app-key-7f3a')?.algorithm?.params).toEqual({
      limit: 50,
      windowMs: 1000,
      burst: 25,
    });
  });

  it('the built-in default (RATE_LIMIT_POLICIES unset) is 10 per second per client', () => {
    const set = compilePolicies(DEFAULT_POLICIES, 'default');
    expect(set.default.algorithm?.params).toEqual({ limit: 10, windowMs: 1000, burst: 10 });
    expect(set.byKey.size).toBe(0);
    expect(set.default.policyHeader).toBe('"default";q=10;w=1');
  });

  it('a document without `default` gets the built-in default', () => {
    const set = compilePolicies({ clients: { partner: { exempt: true } } }, 'x');
    expect(set.default.summary).toBe('10 requests per 1s (token-bucket)');
  });

  it('windows read as durations; burst defaults to limit', () => {
    const set = compilePolicies({ default: { algorithm: 'gcra', limit: 100, window: '1m' } }, 'x');
    expect(set.default.algorithm?.params).toEqual({ limit: 100, windowMs: 60_000, burst: 100 });
    expect(
      compilePolicies({ default: { algorithm: 'gcra', limit: 1, window: 500 } }, 'x').default.policyHeader,
    ).toBe('"default";q=1;w=1');
  });
});

describe('policies: bad input gets an error naming the file, the path and the reason', () => {
  it('malformed YAML: file, line and column', () => {
    const path = file('broken.yaml', 'default: { algorithm: token-bucket, limit: 10\nclients: [\n');
    const error = (() => {
      try {
        loadPoliciesFile(path);
      } catch (e) {
        return e as PolicyError;
      }
    })();
    expect(error).toBeInstanceOf(PolicyError);
    expect(error?.message).toContain(path);
    expect(error?.problems[0]?.path).toMatch(/^line \d+, column \d+$/);
  });

  it('a missing file', () => {
    expect(() => loadPoliciesFile(join(dir, 'nope.yaml'))).toThrow(/nope\.yaml[\s\S]*cannot read it/);
  });

  it('an unknown algorithm names the known ones', () => {
    const path = file('unknown.yaml', 'clients:\n  bob: { algorithm: leaky-bucket, limit: 5, window: 1s }\n');
    expect(() => loadPoliciesFile(path)).toThrow(
      new RegExp(
        `${path}[\\s\\S]*clients\\.bob\\.algorithm: unknown algorithm "leaky-bucket"; expected one of token-bucket`,
      ),
    );
  });

  it('negative, zero, fractional and huge limits', () => {
    expect(
      problemsOf(() => compilePolicies({ default: { algorithm: 'gcra', limit: -5, window: '1s' } }, 'x')),
    ).toEqual([{ path: 'default.limit', message: 'limit must be at least 1' }]);
    expect(
      problemsOf(() => compilePolicies({ default: { algorithm: 'gcra', limit: 0, window: '1s' } }, 'x'))[0]
        ?.path,
    ).toBe('default.limit');
    expect(
      problemsOf(() => compilePolicies({ default: { algorithm: 'gcra', limit: 1.5, window: '1s' } }, 'x'))[0]
        ?.message,
    ).toBe('limit must be a whole number');
    expect(
      problemsOf(() =>
        compilePolicies({ default: { algorithm: 'gcra', limit: 10, window: '1s', burst: 1e9 } }, 'x'),
      )[0]?.path,
    ).toBe('default.burst');
    expect(
      problemsOf(() =>
        compilePolicies({ default: { algorithm: 'gcra', limit: '10', window: '1s' } }, 'x'),
      )[0],
    ).toEqual({
      path: 'default.limit',
      message: 'limit must be a number',
    });
  });

  it('bad windows, missing fields, unknown fields, reserved or odd client names, duplicate keys', () => {
    expect(
      problemsOf(() => compilePolicies({ default: { algorithm: 'gcra', limit: 1, window: 'soon' } }, 'x'))[0]
        ?.path,
    ).toBe('default.window');
    expect(
      problemsOf(() => compilePolicies({ default: { algorithm: 'gcra', limit: 1, window: '0s' } }, 'x'))[0]
        ?.path,
    ).toBe('default.window');
    expect(
      problemsOf(() => compilePolicies({ clients: { a: { limit: 5 } } }, 'x')).map((p) => p.path),
    ).toEqual(['clients.a.algorithm', 'clients.a.window']);
    expect(
      problemsOf(() => compilePolicies({ clients: { a: { exempt: true, speed: 3 } } }, 'x'))[0]?.path,
    ).toBe('clients.a');
    expect(
      problemsOf(() => compilePolicies({ clients: { anonymous: { exempt: true } } }, 'x'))[0]?.message,
    ).toMatch(/reserved/);
    expect(problemsOf(() => compilePolicies({ clients: { 'a "b"': { exempt: true } } }, 'x'))[0]?.path).toBe(
      'clients.a "b"',
    );
    expect(
      problemsOf(() =>
        compilePolicies({ clients: { a: { exempt: true }, b: { key: 'a', exempt: true } } }, 'x'),
      ),
    ).toEqual([{ path: 'clients.b.key', message: 'clients "a" and "b" have the same key' }]);
    expect(problemsOf(() => compilePolicies([1, 2], 'x'))[0]?.path).toBe('(document)');
    expect(problemsOf(() => compilePolicies('default: x', 'x'))[0]?.path).toBe('(document)');
  });

  it('duplicate keys in YAML are refused', () => {
    const path = file('dup.yaml', 'clients:\n  a: { exempt: true }\n  a: { exempt: true }\n');
    expect(() => loadPoliciesFile(path)).toThrow(/line 3, column 3/);
  });
});

describe('policySettings (the config-change marks)', () => {
  it('names one setting per policy, with algorithm and limit/window as text', () => {
    const set = compilePolicies(
      {
        default: { algorithm: 'token-bucket', limit: 10, window: '1s' },
        clients: {
          'good-user': { algorithm: 'gcra', limit: 20, window: '1s', burst: 40 },
          internal: { algorithm: 'fixed-window', limit: 1000, window: '60s', burst: 1000 },
          partner: { exempt: true },
        },
      },
      'test',
    );
    expect(policySettings(set)).toEqual({
      'policy default': 'token-bucket 10/1s',
      'policy good-user': 'gcra 20/1s burst 40',
      'policy internal': 'fixed-window 1000/60s',
      'policy partner': 'exempt',
    });
  });

  it('shows the built-in default when the document leaves it out', () => {
    expect(policySettings(compilePolicies({}, 'test'))).toEqual({ 'policy default': 'token-bucket 10/1s' });
  });
});
