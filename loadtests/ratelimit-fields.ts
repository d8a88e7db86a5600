/**
 * @module
 * The standard rate-limit response fields, read the same way by the k6 scripts and the
 * Node traffic tools (`services/traffic/engine.ts`, `tools/polite.ts`): no k6 and no Node
 * imports here, only pure functions over `{ status, headers }`, so vitest tests them on
 * recorded responses (`loadtests/ratelimit-fields.test.ts`) and k6 runs them as they are.
 *
 * - `RateLimit-Policy: "default";q=10;w=1` and `RateLimit: "default";r=4;t=1` are
 *   Structured Field Lists of Items (RFC 9651) per draft-ietf-httpapi-ratelimit-headers:
 *   the item is the policy name (a String); `q` (quota, required) and `w` (window, s),
 *   `r` (remaining, required) and `t` (seconds until the quota resets) are Integers.
 * - `Retry-After` (RFC 9110): delay-seconds or an HTTP-date; required on every 429.
 *
 * The Structured Field parser is `structured-fields.ts`; the polite client's back-off
 * from these fields is `backoff.ts`.
 *
 * k6 runs this file with its own runtime (ES2020 plus types stripped): no Node APIs.
 */
import { type BareItem, parseSfList, type SfItem } from './structured-fields.ts';

/** Response headers as k6 (`Ratelimit-Policy`) or undici (`ratelimit-policy`) give them. */
export type FieldHeaders = Record<string, string | string[] | undefined>;

export interface FieldResponse {
  status: number;
  headers: FieldHeaders;
}

/** A header's value by case-insensitive name; repeated lines joined with `, ` (one SF list). */
export function header(headers: FieldHeaders, name: string): string | undefined {
  const wanted = name.toLowerCase();
  const values: string[] = [];
  for (const key of Object.keys(headers)) {
    if (key.toLowerCase() !== wanted) continue;
    const value = headers[key];
    if (Array.isArray(value)) values.push(...value);
    else if (value !== undefined) values.push(value);
  }
  return values.length ? values.join(', ') : undefined;
}

export interface QuotaPolicy {
  name: string;
  /** Quota units per window. */
  q: number;
  /** Window in seconds, when given. */
  w?: number;
}

export interface QuotaState {
  name: string;
  /** Units left. */
  r: number;
  /** Seconds until the quota resets, when given. */
  t?: number;
}

/** Either the parsed value or why it is not well-formed. */
export type Parsed<T> = { ok: true; value: T } | { ok: false; problem: string };

const isNonNegativeInteger = (v: BareItem | undefined): v is number =>
  typeof v === 'number' && Number.isInteger(v) && v >= 0;

function items(field: string, value: string): Parsed<SfItem[]> {
  try {
    const list = parseSfList(value);
    if (list.length === 0) return { ok: false, problem: `${field} is empty` };
    return { ok: true, value: list };
  } catch (error) {
    return { ok: false, problem: `${field} is not a Structured Field List: ${(error as Error).message}` };
  }
}

/** `RateLimit-Policy`: each item a String name with an Integer `q` ≥ 0 and optional `w` > 0. */
export function parseRateLimitPolicy(value: string): Parsed<QuotaPolicy[]> {
  const list = items('RateLimit-Policy', value);
  if (!list.ok) return list;
  const policies: QuotaPolicy[] = [];
  for (const { value: name, params } of list.value) {
    if (typeof name !== 'string') return { ok: false, problem: 'a RateLimit-Policy item is not a String' };
    const { q, w, qu } = params;
    if (!isNonNegativeInteger(q)) return { ok: false, problem: `policy "${name}": q must be an Integer ≥ 0` };
    if (w !== undefined && !(isNonNegativeInteger(w) && w > 0)) {
      return { ok: false, problem: `policy "${name}": w must be an Integer > 0` };
    }
    if (qu !== undefined && !['requests', 'content-bytes', 'concurrent-requests'].includes(qu as string)) {
      return { ok: false, problem: `policy "${name}": unknown quota unit qu` };
    }
    if (policies.some((p) => p.name === name)) return { ok: false, problem: `policy "${name}" listed twice` };
    policies.push(w === undefined ? { name, q } : { name, q, w });
  }
  return { ok: true, value: policies };
}

/** `RateLimit`: each item a String name with an Integer `r` ≥ 0 and optional `t` ≥ 0. */
export function parseRateLimit(value: string): Parsed<QuotaState[]> {
  const list = items('RateLimit', value);
  if (!list.ok) return list;
  const states: QuotaState[] = [];
  for (const { value: name, params } of list.value) {
    if (typeof name !== 'string') return { ok: false, problem: 'a RateLimit item is not a String' };
    const { r, t } = params;
    if (!isNonNegativeInteger(r))
      return { ok: false, problem: `RateLimit "${name}": r must be an Integer ≥ 0` };
    if (t !== undefined && !isNonNegativeInteger(t)) {
      return { ok: false, problem: `RateLimit "${name}": t must be an Integer ≥ 0` };
    }
    states.push(t === undefined ? { name, r } : { name, r, t });
  }
  return { ok: true, value: states };
}

const IMF_FIXDATE =
  /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} GMT$/;

/**
 * `Retry-After` in seconds from `nowMs` (wall clock, for the HTTP-date form), or undefined
 * when malformed. Delay-seconds is `1*DIGIT`; a date in the past reads as 0.
 */
export function parseRetryAfter(value: string, nowMs = Date.now()): number | undefined {
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text);
  if (!IMF_FIXDATE.test(text)) return undefined;
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, Math.ceil((at - nowMs) / 1000));
}

/**
 * Why a response's rate-limit fields fail the standard, or undefined when they pass.
 * `required`: the fields must be present (a limited client through the edge); otherwise
 * they may be absent (an exempt client, the balancer) but must be well-formed if present.
 */
export function rateLimitPolicyProblem(res: FieldResponse, required = true): string | undefined {
  const value = header(res.headers, 'RateLimit-Policy');
  if (value === undefined) return required ? 'RateLimit-Policy is missing' : undefined;
  const parsed = parseRateLimitPolicy(value);
  return parsed.ok ? undefined : parsed.problem;
}

/** As {@link rateLimitPolicyProblem} for `RateLimit`; also: each item names a listed policy, r ≤ q. */
export function rateLimitProblem(res: FieldResponse, required = true): string | undefined {
  const value = header(res.headers, 'RateLimit');
  if (value === undefined) return required ? 'RateLimit is missing' : undefined;
  const parsed = parseRateLimit(value);
  if (!parsed.ok) return parsed.problem;
  const policyValue = header(res.headers, 'RateLimit-Policy');
  const policies = policyValue === undefined ? undefined : parseRateLimitPolicy(policyValue);
  if (!policies?.ok) return undefined; // RateLimit-Policy's own check reports it
  for (const state of parsed.value) {
    const policy = policies.value.find((p) => p.name === state.name);
    if (!policy) return `RateLimit names "${state.name}", which RateLimit-Policy does not list`;
    if (state.r > policy.q) return `RateLimit "${state.name}": r=${state.r} exceeds the quota q=${policy.q}`;
  }
  return undefined;
}

/** A 429 must say when to come back: `Retry-After` present and well-formed. */
export function retryAfterProblem(res: FieldResponse): string | undefined {
  if (res.status !== 429) return undefined;
  const value = header(res.headers, 'Retry-After');
  if (value === undefined) return 'a 429 without Retry-After';
  return parseRetryAfter(value) === undefined ? `Retry-After "${value}" is malformed` : undefined;
}

/** The check names every k6 scenario uses (and its thresholds select by the `ratelimit` tag). */
export const FIELD_CHECKS = {
  policy: 'RateLimit-Policy present and well-formed',
  state: 'RateLimit present and well-formed',
  retryAfter: 'Retry-After on every 429',
} as const;

/**
 * The three checks as predicates, k6 `check()`-shaped (name → response → boolean).
 * @example check(res, fieldChecks(true), { ratelimit: 'fields' });
 */
export function fieldChecks(required: boolean): Record<string, (res: FieldResponse) => boolean> {
  return {
    [FIELD_CHECKS.policy]: (res) => rateLimitPolicyProblem(res, required) === undefined,
    [FIELD_CHECKS.state]: (res) => rateLimitProblem(res, required) === undefined,
    [FIELD_CHECKS.retryAfter]: (res) => retryAfterProblem(res) === undefined,
  };
}

/** Every problem of one response (for logs and test messages); empty when it passes. */
export function fieldProblems(res: FieldResponse, required = true): string[] {
  return [
    rateLimitPolicyProblem(res, required),
    rateLimitProblem(res, required),
    retryAfterProblem(res),
  ].filter((p): p is string => p !== undefined);
}
