import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { parseList, serializeList, Token } from 'structured-headers';
import { describe, expect, it } from 'vitest';
import {
  backoffFor,
  FIELD_CHECKS,
  type FieldResponse,
  fieldChecks,
  fieldProblems,
  IN_FLIGHT_POLL_MS,
  Politeness,
  parseRateLimit,
  parseRetryAfter,
  parseSfList,
} from './ratelimit-fields.js';

interface Recorded extends FieldResponse {
  label: string;
  headers: Record<string, string>;
}

/** Real answers of the limiter with config/policies.yaml (tools/traffic/record-ratelimit-fixture.ts). */
const recorded = (
  JSON.parse(readFileSync(new URL('./fixtures/limiter-responses.json', import.meta.url), 'utf8')) as {
    responses: Recorded[];
  }
).responses;

/** As k6 hands them over: canonical header names (`Ratelimit-Policy`). */
const canonical = (headers: Record<string, string>) =>
  Object.fromEntries(
    Object.entries(headers).map(([k, v]) => [
      k.replace(/(^|-)([a-z])/g, (_, d, c) => d + c.toUpperCase()),
      v,
    ]),
  );

const passes = (res: FieldResponse, required = true) =>
  Object.values(fieldChecks(required)).every((predicate) => predicate(res));

const base = recorded.find((r) => r.label === 'default (token-bucket) 200') as Recorded;
const with429 = recorded.find((r) => r.label === 'default (token-bucket) 429') as Recorded;
const withRateLimit = (value: string, from: Recorded = base): FieldResponse => ({
  status: from.status,
  headers: { ...from.headers, ratelimit: value },
});

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

describe('the Structured Field parser agrees with a reference implementation', () => {
  it('parses what structured-headers serializes, and refuses what it refuses', () => {
    const name = fc.string({ maxLength: 12 }).filter((s) => /^[\x20-\x7e]*$/.test(s));
    const integer = fc.integer({ min: -999_999, max: 999_999_999 });
    const item = fc.tuple(
      name,
      fc.dictionary(fc.stringMatching(/^[a-z][a-z0-9_\-.*]{0,5}$/), integer, { maxKeys: 3 }),
    );
    fc.assert(
      fc.property(fc.array(item, { minLength: 1, maxLength: 4 }), (list) => {
        const text = serializeList(list.map(([n, params]) => [n, new Map(Object.entries(params))]));
        const ours = parseSfList(text).map((i) => [i.value, i.params]);
        const theirs = parseList(text).map(([value, params]) => [value, Object.fromEntries(params)]);
        expect(ours).toEqual(theirs);
      }),
      { numRuns: 300, seed: 10 },
    );
    for (const bad of ['"a";r=1,', '"a"r=1', '"a";r=1 "b"', '"a;r=1', '"a";r=1234567890123456']) {
      expect(() => parseList(bad), bad).toThrow();
      expect(() => parseSfList(bad), bad).toThrow();
    }
    expect(parseSfList('tok;x=?1;y=:aGk=:')).toEqual([
      { value: { token: 'tok' }, params: { x: true, y: { bytes: 'aGk=' } } },
    ]);
    expect(parseList('tok')[0]?.[0]).toBeInstanceOf(Token);
  });

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

describe("the polite client's decision on recorded responses", () => {
  const at = (label: string) => recorded.find((r) => r.label === label) as Recorded;

  it('a 429 waits Retry-After: 1 s for the token bucket, 60 s for the sliding log', () => {
    expect(backoffFor(at('default (token-bucket) 429'))).toEqual({ waitMs: 1_000, reason: 'retry-after' });
    expect(backoffFor(at('strict-client (sliding-window-log) 429'))).toEqual({
      waitMs: 60_000,
      reason: 'retry-after',
    });
  });

  it('quota left: no wait', () => {
    expect(backoffFor(at('default (token-bucket) 200'))).toEqual({ waitMs: 0 });
  });

  it('r=0 on an admitted answer: one unit of the window (w/q), or the whole t when asked to', () => {
    const spent: FieldResponse = withRateLimit('"default";r=0;t=1');
    expect(backoffFor(spent)).toEqual({ waitMs: 100, reason: 'quota' });
    expect(backoffFor(spent, Date.now(), false)).toEqual({ waitMs: 1_000, reason: 'quota' });
    // A fixed window of 1000 per 60 s: 60 ms per unit, sooner than t.
    const fixed = at('internal-config (fixed-window) 200');
    expect(
      backoffFor({ status: 200, headers: { ...fixed.headers, ratelimit: '"internal-config";r=0;t=7' } }),
    ).toEqual({ waitMs: 60, reason: 'quota' });
  });

  it('malformed fields are ignored, except that a 429 still waits (1 s)', () => {
    expect(backoffFor(withRateLimit('"default";r=zero'))).toEqual({ waitMs: 0 });
    expect(backoffFor({ status: 429, headers: {} })).toEqual({ waitMs: 1_000, reason: 'retry-after' });
  });

  it('Politeness keeps the latest deadline and counts backoffs by reason', () => {
    const polite = new Politeness(true, () => 0);
    expect(polite.waitMs(0)).toBe(0);
    polite.observe(1_000, at('default (token-bucket) 429'));
    expect(polite.waitMs(1_500)).toBe(500);
    polite.observe(1_600, withRateLimit('"default";r=0;t=1')); // 100 ms: sooner than the 429's
    expect(polite.waitMs(1_800)).toBe(200);
    expect(polite.waitMs(2_000)).toBe(0);
    expect(polite.backoffs).toEqual({ 'retry-after': 1, quota: 1 });
  });

  it('keeps no more requests in flight than remain, plus what refills in a round trip', () => {
    const polite = new Politeness(true, () => 0);
    polite.sending();
    polite.sending(); // nothing known yet: no limit
    expect(polite.waitMs(0)).toBe(0);
    polite.observe(2, withRateLimit('"default";r=1;t=1'), 0); // a 2 ms round trip
    expect(polite.waitMs(2)).toBe(IN_FLIGHT_POLL_MS); // one in flight, one remains
    polite.lost(); // the other one never got an answer
    expect(polite.waitMs(3)).toBe(0);
    polite.sending();
    polite.observe(5, withRateLimit('"default";r=0;t=1'), 3);
    expect(polite.waitMs(5)).toBe(98); // one unit (100 ms) from when it was sent
    polite.sending(); // the probe after the wait
    expect(polite.waitMs(105)).toBe(IN_FLIGHT_POLL_MS);
  });

  it('a slow server: the wait counts from the send, and a round trip of refill may be in flight', () => {
    const polite = new Politeness(true, () => 0);
    for (let i = 0; i < 5; i++) {
      polite.sending();
      polite.observe(1_000 * i + 300, withRateLimit('"default";r=0;t=1'), 1_000 * i); // 300 ms round trips
    }
    expect(polite.waitMs(4_300)).toBe(0); // 4000 + 100 ms is past
    polite.sending();
    polite.sending();
    polite.sending(); // r=0, but three units come back during a 300 ms round trip
    expect(polite.waitMs(4_300)).toBe(IN_FLIGHT_POLL_MS);
  });
});
