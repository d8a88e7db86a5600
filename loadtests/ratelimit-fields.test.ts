import { parseList } from 'structured-headers';
import { describe, expect, it } from 'vitest';
import { at, base, type Recorded, recorded, withRateLimit } from './fixtures/recorded.js';
import {
  FIELD_CHECKS,
  type FieldResponse,
  fieldChecks,
  fieldProblems,
  parseRateLimit,
  parseRetryAfter,
} from './ratelimit-fields.js';

/** As k6 hands them over: canonical header names (`Ratelimit-Policy`). */
const canonical = (headers: Record<string, string>) =>
  Object.fromEntries(
    Object.entries(headers).map(([k, v]) => [
      k.replace(/(^|-)([a-z])/g, (_, d, c) => d + c.toUpperCase()),
      v,
    ]),
  );
const with429 = at('default (token-bucket) 429');

const passes = (res: FieldResponse, required = true) =>
  Object.values(fieldChecks(required)).every((predicate) => predicate(res));

describe('the standard-field checks on recorded limiter responses', () => {
  it('the fixture covers every algorithm, admitted and refused, and an exempt client', () => {
    const labels = recorded.map((r) => r.label).join('\n');
    for (const algorithm of ['token-bucket', 'fixed-window', 'sliding-window-log', 'gcra']) {
      expect(labels).toMatch(new RegExp(`${algorithm}\\) 200`));
      expect(labels).toMatch(new RegExp(`${algorithm}\\) 429`));
    }
    expect(labels).toContain('partner (exempt) 200');
  });

  it('every limited response passes all three checks, with undici or k6 header names', () => {
    for (const res of recorded.filter((r) => !r.label.includes('exempt'))) {
      expect(fieldProblems(res), res.label).toEqual([]);
      expect(passes(res), res.label).toBe(true);
      expect(passes({ status: res.status, headers: canonical(res.headers) }), res.label).toBe(true);
    }
  });

  it("an exempt client's answer has no fields: fails when they are required, passes when optional", () => {
    const exempt = recorded.find((r) => r.label.includes('exempt')) as Recorded;
    expect(fieldProblems(exempt)).toEqual(['RateLimit-Policy is missing', 'RateLimit is missing']);
    expect(passes(exempt, false)).toBe(true);
  });

  it('the check names are the ones the k6 thresholds select', () => {
    expect(Object.keys(fieldChecks(true))).toEqual(Object.values(FIELD_CHECKS));
  });
});

describe('a malformed RateLimit field fails the check', () => {
  const malformed: [string, string][] = [
    ['r missing', '"default";t=1'],
    ['r negative', '"default";r=-1;t=1'],
    ['r a String', '"default";r="4";t=1'],
    ['r a Decimal', '"default";r=1.5;t=1'],
    ['t a Token', '"default";r=4;t=soon'],
    ['name a Token, not a String', 'default;r=4;t=1'],
    ['unterminated String', '"default;r=4;t=1'],
    ['uppercase key', '"default";R=4;t=1'],
    ['trailing comma', '"default";r=4;t=1,'],
    ['draft-7 syntax', 'limit=10, remaining=5, reset=1'],
    ['legacy number only', '4'],
    ['empty', ''],
    ['r above the quota', '"default";r=11;t=1'],
    ['a policy RateLimit-Policy does not list', '"other";r=4;t=1'],
    ['an inner list', '("default");r=4'],
  ];
  for (const [why, value] of malformed) {
    it(`${why}: ${JSON.stringify(value)}`, () => {
      const res = withRateLimit(value);
      expect(fieldChecks(true)[FIELD_CHECKS.state]?.(res)).toBe(false);
      expect(fieldChecks(false)[FIELD_CHECKS.state]?.(res)).toBe(false);
      // The other two checks are not fooled into failing.
      expect(fieldChecks(true)[FIELD_CHECKS.policy]?.(res)).toBe(true);
    });
  }

  it('well-formed variations pass: two policies, no t, spaces after ";" and ","', () => {
    const res: FieldResponse = {
      status: 200,
      headers: { 'ratelimit-policy': '"a";q=10;w=1, "b";q=100;w=60', ratelimit: '"a"; r=9; t=1,  "b";r=99' },
    };
    expect(fieldProblems(res)).toEqual([]);
  });
});

describe('RateLimit-Policy and Retry-After', () => {
  it('a malformed RateLimit-Policy fails its check', () => {
    for (const value of [
      '"default";w=1',
      '"default";q=10;w=0',
      '"default";q=ten',
      'default;q=10',
      '"a";q=1, "a";q=2',
    ]) {
      const res = { status: 200, headers: { ...base.headers, 'ratelimit-policy': value } };
      expect(fieldChecks(true)[FIELD_CHECKS.policy]?.(res), value).toBe(false);
    }
  });

  it('a 429 without a well-formed Retry-After fails; delay-seconds and HTTP-dates pass', () => {
    const { 'retry-after': _, ...without } = with429.headers;
    expect(fieldProblems({ status: 429, headers: without })).toEqual(['a 429 without Retry-After']);
    expect(fieldProblems({ status: 429, headers: { ...without, 'retry-after': 'soon' } })).toHaveLength(1);
    expect(fieldProblems({ status: 429, headers: { ...without, 'retry-after': '-1' } })).toHaveLength(1);
    const date = 'Sat, 28 Nov 2026 00:00:05 GMT';
    expect(fieldProblems({ status: 429, headers: { ...without, 'retry-after': date } })).toEqual([]);
    expect(parseRetryAfter(date, Date.parse('2026-11-28T00:00:00Z'))).toBe(5);
    // A 200 needs none.
    expect(fieldProblems(base)).toEqual([]);
  });
});

describe('the fields against a reference implementation', () => {
  it('reads the recorded fields the way structured-headers does', () => {
    for (const res of recorded.filter((r) => r.headers.ratelimit)) {
      const parsed = parseRateLimit(res.headers.ratelimit as string);
      const reference = parseList(res.headers.ratelimit as string)[0] as [string, Map<string, number>];
      expect(parsed.ok && parsed.value[0]).toEqual({
        name: reference[0],
        r: reference[1].get('r'),
        t: reference[1].get('t'),
      });
    }
  });
});
