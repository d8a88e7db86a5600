/**
 * @module
 * The rate-limit response fields, as flat `[name, value, ...]` arrays for
 * `res.writeHead` (no Headers object, no per-request header map):
 * - `RateLimit-Policy: "<policy>";q=<quota>;w=<window s>` and
 *   `RateLimit: "<policy>";r=<remaining>;t=<s to reset>` (IETF draft
 *   ratelimit-headers-11, Structured Field Items) on every limited response;
 * - `Retry-After: <s>` on a 429, rounded up so that waiting that long is admitted;
 * - optionally legacy `X-RateLimit-Limit/Remaining/Reset`, Reset in seconds until reset
 *   (Envoy's meaning, not express-rate-limit's epoch seconds).
 */
import { problemHeaders } from '../shared/problem.js';
import type { Policy } from './policies.js';
import type { Decision } from './types.js';

/** Whole seconds, rounded up: 1 ms → 1, 1000 ms → 1, 1001 ms → 2. */
export const seconds = (ms: number) => Math.ceil(ms / 1000);

/** Appends `RateLimit-Policy`, `RateLimit` and, with `legacy`, the `X-RateLimit-*` fields. */
function pushRateLimitFields(
  headers: string[],
  policy: Policy,
  decision: Decision,
  legacy: boolean,
): string[] {
  const reset = seconds(decision.resetMs);
  headers.push(
    'RateLimit-Policy',
    policy.policyHeader,
    'RateLimit',
    `${policy.rateLimitPrefix}${decision.remaining};t=${reset}`,
  );
  if (legacy) {
    headers.push(
      'X-RateLimit-Limit',
      String(decision.limit),
      'X-RateLimit-Remaining',
      String(decision.remaining),
      'X-RateLimit-Reset',
      String(reset),
    );
  }
  return headers;
}

/** The fields for an admitted request (added to the upstream's response). */
export function allowedHeaders(policy: Policy, decision: Decision, legacy: boolean): string[] {
  return pushRateLimitFields([], policy, decision, legacy);
}

/** The 429 answer: the problem+json body and every header, `Retry-After` first. */
export function rejection(
  policy: Policy,
  decision: Decision,
  legacy: boolean,
): { headers: string[]; body: string } {
  const retry = String(seconds(decision.retryAfterMs));
  // Policy names are ASCII (validated), so the body's length in bytes is its length.
  const body = `${policy.problemPrefix}${retry}}`;
  const headers = problemHeaders(body.length);
  headers.push('Retry-After', retry);
  pushRateLimitFields(headers, policy, decision, legacy);
  return { headers, body };
}
