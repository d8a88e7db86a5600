/**
 * @module
 * The limiter's retry schedule for an upstream it cannot reach: short, bounded,
 * exponential backoff with jitter.
 *
 * The limiter has one upstream (the balancer), so "retry elsewhere" is not an option; a
 * balancer restarting (or a keep-alive socket it closed as a request went out) is bridged
 * by waiting a little and trying the same address again. Retry `n` (1-based) waits a
 * random time in `[c/2, c]` with `c = baseMs · 2^(n-1)` ("equal jitter": never zero, so
 * clients that failed together do not all come back together, and never more than `c`).
 * With the defaults (3 retries, 100 ms) the waits are 50–100, 100–200 and 200–400 ms:
 * 4 tries within 0.35–0.7 s, then the limiter answers 503 itself (fail fast).
 *
 * Pro: bridges a restart of a second or so without the client seeing it; bounded, so a
 * balancer that stays down costs each request at most `worstCaseWaitMs`.
 * Con: each waiting request holds its client connection; keep the total well below the
 * client's own timeout. Watch `lab_ratelimit_upstream_retries_total` and
 * `lab_ratelimit_upstream_failures_total`.
 */

export interface RetrySchedule {
  /** Retries after the first try (0 = none). */
  retries: number;
  /** The first retry's longest wait; doubles per retry. */
  baseMs: number;
}

/**
 * How long to wait before retry `retry` (1-based).
 * @param random - in [0, 1); tests pass a fixed one
 * @example
 * backoffDelay(1, { retries: 3, baseMs: 100 }, () => 0.5); // 75
 */
export function backoffDelay(retry: number, { baseMs }: RetrySchedule, random: () => number): number {
  const ceiling = baseMs * 2 ** (retry - 1);
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

/** The longest total wait of a schedule (every retry at its ceiling). */
export function worstCaseWaitMs({ retries, baseMs }: RetrySchedule): number {
  return baseMs * (2 ** retries - 1);
}
