/**
 * @module
 * The polite client's whole decision, from the rate-limit fields of each answer
 * ({@link Politeness}): after a 429 it waits `Retry-After`; when `r=0` it waits until the
 * quota comes back; otherwise it sends at its offered rate. `docs/LAB.md` ("A polite
 * client") explains why that gets as much admitted as flooding with a fifth of the
 * requests. Shared by the k6 scenario `loadtests/polite.ts` and the Node tools
 * (`services/traffic/engine.ts`, `tools/polite.ts`); k6 runs it with its own runtime, so
 * no Node APIs.
 */
import {
  type FieldResponse,
  header,
  parseRateLimit,
  parseRateLimitPolicy,
  parseRetryAfter,
  type QuotaState,
} from './ratelimit-fields.ts';

export type BackoffReason = 'retry-after' | 'quota';

export interface Backoff {
  /** How long from the response before the next request (ms); 0 = go on. */
  waitMs: number;
  reason?: BackoffReason;
}

/**
 * What one response asks of a polite client:
 * - **429**: wait `Retry-After` (the draft: it takes precedence over `RateLimit`); without
 *   a usable one, the `t` of `RateLimit`, else 1 s.
 * - **`r=0`** (the tightest policy's quota is spent): wait until a unit of it comes back:
 *   `t` seconds, or one unit's share of the window (`w / q` of `RateLimit-Policy`) when
 *   that is sooner. `t` is the time until the *whole* quota is back, rounded up to whole
 *   seconds; for a token bucket (the lab's default) the first unit returns after `w / q`,
 *   and waiting for all of it lets the bucket overflow: 144 admitted instead of 159 in
 *   15 s at 50/s against 10/s (`tools/traffic/polite.test.ts`, on the real algorithm).
 *   Under a fixed window the early try gets one 429 and its Retry-After: one wasted
 *   request per window.
 * - otherwise: no wait; the client sends at its offered rate.
 *
 * @param nowMs - wall clock, only for an HTTP-date `Retry-After`
 * @param unitWait - false: wait the whole `t` after r=0 (the plain reading of the draft)
 */
export function backoffFor(res: FieldResponse, nowMs = Date.now(), unitWait = true): Backoff {
  const stateValue = header(res.headers, 'RateLimit');
  const states = stateValue === undefined ? undefined : parseRateLimit(stateValue);
  const tightest = states?.ok
    ? states.value.reduce((a, b) => (b.r < a.r ? b : a), states.value[0] as QuotaState)
    : undefined;
  if (res.status === 429) {
    const retryValue = header(res.headers, 'Retry-After');
    const retry = retryValue === undefined ? undefined : parseRetryAfter(retryValue, nowMs);
    const seconds = retry ?? tightest?.t ?? 1;
    return { waitMs: seconds * 1000, reason: 'retry-after' };
  }
  if (!tightest || tightest.r > 0) return { waitMs: 0 };
  let waitMs = (tightest.t ?? 1) * 1000;
  const policyValue = header(res.headers, 'RateLimit-Policy');
  const policies = policyValue === undefined ? undefined : parseRateLimitPolicy(policyValue);
  const policy = policies?.ok ? policies.value.find((p) => p.name === tightest.name) : undefined;
  if (unitWait && policy?.w !== undefined && policy.q > 0) {
    waitMs = Math.min(waitMs, (policy.w * 1000) / policy.q);
  }
  return { waitMs, reason: 'quota' };
}

/** How soon to ask again while the requests in flight may already use up the quota (ms). */
export const IN_FLIGHT_POLL_MS = 5;

/**
 * A polite client's state: when it may send again. Time is injected (any monotonic ms
 * clock: `performance.now()` in Node, `Date.now()` in k6, a fake one in tests).
 *
 * Besides the backoffs of {@link backoffFor}, it keeps no more requests in flight than
 * the quota can take: what the last answer said remains (`r`), plus the units that come
 * back during one round trip (round trip × q/w), at least one. So right after a backoff
 * one request goes out and the next waits for its answer, instead of a second one that
 * would be answered 429; and a slow server (a long round trip) does not hold it below
 * the quota's pace, which would let the quota go to waste.
 * @example
 * const polite = new Politeness();
 * if (polite.waitMs(now()) === 0) { polite.sending(); polite.observe(now(), await send()); }
 */
export class Politeness {
  private readyAt = Number.NEGATIVE_INFINITY;
  private inFlight = 0;
  /** `r` of the latest answer (Infinity before any, or without the field). */
  private remaining = Number.POSITIVE_INFINITY;
  /** Milliseconds per unit of the tightest policy (w/q), once known. */
  private unitMs = Number.POSITIVE_INFINITY;
  /** Smoothed round trip (ms), from `observe`'s `sentAt`. */
  private roundTripMs = 0;
  /** Backoffs taken, by reason. */
  readonly backoffs: Record<BackoffReason, number> = { 'retry-after': 0, quota: 0 };

  private readonly unitWait: boolean;
  private readonly wallClock: () => number;

  /**
   * @param [unitWait=true] - false: wait the whole `t` after r=0 (see {@link backoffFor})
   * @param [wallClock=Date.now] - for an HTTP-date `Retry-After`
   */
  constructor(unitWait = true, wallClock: () => number = () => Date.now()) {
    // Plain fields, not parameter properties: k6 strips types, it does not transform.
    this.unitWait = unitWait;
    this.wallClock = wallClock;
  }

  /** Milliseconds still to wait at `now` (0 = may send). */
  waitMs(now: number): number {
    const wait = Math.max(0, this.readyAt - now);
    if (wait > 0) return wait;
    const refilled = Math.floor(this.roundTripMs / this.unitMs);
    return this.inFlight >= Math.max(1, this.remaining + refilled) ? IN_FLIGHT_POLL_MS : 0;
  }

  /** A request goes out (its answer comes to {@link observe}, or {@link lost}). */
  sending(): void {
    this.inFlight += 1;
  }

  /** A request that got no answer (timeout, connection error). */
  lost(): void {
    this.inFlight = Math.max(0, this.inFlight - 1);
  }

  /**
   * Reads a response received at `now`; returns the backoff it imposes. With `sentAt`
   * (when its request went out) the wait counts from then: the server decided somewhere
   * between the two, and the next request takes the same way there, so counting from the
   * answer would add the round trip to every wait (a slow server would cost quota).
   */
  observe(now: number, res: FieldResponse, sentAt = now): Backoff {
    this.lost();
    const value = header(res.headers, 'RateLimit');
    const states = value === undefined ? undefined : parseRateLimit(value);
    const tightest = states?.ok
      ? states.value.reduce((a, b) => (b.r < a.r ? b : a), states.value[0] as QuotaState)
      : undefined;
    this.remaining = tightest ? tightest.r : res.status === 429 ? 0 : Number.POSITIVE_INFINITY;
    const policyValue = header(res.headers, 'RateLimit-Policy');
    const policies = policyValue === undefined ? undefined : parseRateLimitPolicy(policyValue);
    const policy =
      policies?.ok && tightest ? policies.value.find((p) => p.name === tightest.name) : undefined;
    if (policy?.w !== undefined && policy.q > 0) this.unitMs = (policy.w * 1000) / policy.q;
    if (now > sentAt) {
      const sample = now - sentAt;
      this.roundTripMs = this.roundTripMs === 0 ? sample : 0.8 * this.roundTripMs + 0.2 * sample;
    }
    const backoff = backoffFor(res, this.wallClock(), this.unitWait);
    if (backoff.reason) {
      this.backoffs[backoff.reason] += 1;
      this.readyAt = Math.max(this.readyAt, Math.min(now, sentAt) + backoff.waitMs);
    }
    return backoff;
  }
}
