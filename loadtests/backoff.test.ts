import { describe, expect, it } from 'vitest';
import { backoffFor, IN_FLIGHT_POLL_MS, Politeness } from './backoff.js';
import { at, withRateLimit } from './fixtures/recorded.js';
import type { FieldResponse } from './ratelimit-fields.js';

describe("the polite client's decision on recorded responses", () => {
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
