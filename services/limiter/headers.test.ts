import { parseItem, parseList } from 'structured-headers';
import { describe, expect, it } from 'vitest';
import { allowedHeaders, rejection } from './headers.js';
import { compilePolicies } from './policies.js';

const policies = compilePolicies(
  {
    default: { algorithm: 'token-bucket', limit: 10, window: '1s' },
    clients: { 'internal-config': { algorithm: 'fixed-window', limit: 1000, window: '60s' } },
  },
  'test',
);
const internal = policies.byKey.get('internal-config');
if (!internal) throw new Error('fixture');

const toMap = (flat: string[]) => {
  const map = new Map<string, string>();
  for (let i = 0; i < flat.length; i += 2) map.set((flat[i] as string).toLowerCase(), flat[i + 1] as string);
  return map;
};

describe('rate-limit header syntax (parsed as Structured Fields)', () => {
  it('RateLimit-Policy is a List with the policy name, q and w', () => {
    const headers = toMap(
      allowedHeaders(
        internal,
        { allowed: true, limit: 1000, remaining: 998, resetMs: 42_001, retryAfterMs: 0 },
        false,
      ),
    );
    const [item, ...rest] = parseList(headers.get('ratelimit-policy') as string);
    expect(rest).toHaveLength(0);
    const [name, params] = item as [unknown, Map<string, unknown>];
    expect(String(name)).toBe('internal-config');
    expect(params.get('q')).toBe(1000);
    expect(params.get('w')).toBe(60);
  });

  it('RateLimit is an Item with the policy name, r and t (seconds, rounded up)', () => {
    const headers = toMap(
      allowedHeaders(
        internal,
        { allowed: true, limit: 1000, remaining: 998, resetMs: 42_001, retryAfterMs: 0 },
        false,
      ),
    );
    const [name, params] = parseItem(headers.get('ratelimit') as string);
    expect(String(name)).toBe('internal-config');
    expect(params.get('r')).toBe(998);
    expect(params.get('t')).toBe(43);
    expect(headers.has('x-ratelimit-limit')).toBe(false);
  });

  it('legacy X-RateLimit-* on request: Reset in seconds until reset', () => {
    const headers = toMap(
      allowedHeaders(
        policies.default,
        { allowed: true, limit: 10, remaining: 3, resetMs: 700, retryAfterMs: 0 },
        true,
      ),
    );
    expect(headers.get('x-ratelimit-limit')).toBe('10');
    expect(headers.get('x-ratelimit-remaining')).toBe('3');
    expect(headers.get('x-ratelimit-reset')).toBe('1');
  });

  it('a 429: Retry-After rounded up, problem+json body naming the policy, correct Content-Length', () => {
    const { headers, body } = rejection(
      policies.default,
      { allowed: false, limit: 10, remaining: 0, resetMs: 1000, retryAfterMs: 1001 },
      false,
    );
    const map = toMap(headers);
    expect(map.get('retry-after')).toBe('2');
    expect(map.get('content-type')).toBe('application/problem+json');
    expect(Number(map.get('content-length'))).toBe(Buffer.byteLength(body));
    const [name, params] = parseItem(map.get('ratelimit') as string);
    expect(String(name)).toBe('default');
    expect(params.get('r')).toBe(0);
    expect(params.get('t')).toBe(1);
    expect(JSON.parse(body)).toEqual({
      type: 'https://iana.org/assignments/http-problem-types#quota-exceeded',
      title: 'Too Many Requests',
      status: 429,
      detail: 'over the rate limit of policy "default": 10 requests per 1s (token-bucket)',
      policy: 'default',
      'violated-policies': ['default'],
      retry_after: 2,
    });
  });
});
