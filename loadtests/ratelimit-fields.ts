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
 * {@link Politeness} is the polite client's whole decision: after a 429 it waits
 * `Retry-After`; when `r=0` it waits until the quota comes back; otherwise it sends at
 * its offered rate. `docs/LAB.md` ("A polite client") explains why that gets as much
 * admitted as flooding with a fifth of the requests.
 *
 * k6 runs this file with its own runtime (ES2020 plus types stripped): no Node APIs.
 */

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

// ── Structured Field Lists (RFC 9651 §4.2), the part these fields use ────────────────────

/** A bare item: String → string, Integer/Decimal → number, Token → `{ token }`, ... */
export type BareItem = string | number | boolean | { token: string } | { bytes: string };

export interface SfItem {
  value: BareItem;
  params: Record<string, BareItem>;
}

class SfError extends Error {}

/** Parses a Structured Field List of Items (inner lists are refused: these fields have none). */
export function parseSfList(input: string): SfItem[] {
  let i = 0;
  const text = input;
  const fail = (what: string): never => {
    throw new SfError(`${what} at ${i} in ${JSON.stringify(text)}`);
  };
  const skipSp = () => {
    while (text[i] === ' ') i++;
  };
  const skipOws = () => {
    while (text[i] === ' ' || text[i] === '\t') i++;
  };

  function parseString(): string {
    i++; // the opening quote
    let out = '';
    while (i < text.length) {
      const c = text[i++] as string;
      if (c === '\\') {
        const next = text[i++];
        if (next !== '"' && next !== '\\') fail('bad escape in a String');
        out += next;
      } else if (c === '"') {
        return out;
      } else {
        const code = c.charCodeAt(0);
        if (code < 0x20 || code > 0x7e) fail('a String holds only printable ASCII');
        out += c;
      }
    }
    return fail('unterminated String');
  }

  function parseNumber(): number {
    const match = /^-?(\d+)(\.(\d+))?/.exec(text.slice(i));
    if (!match) return fail('expected a number');
    const [whole, integer = '', dot, fraction = ''] = match;
    if (dot) {
      if (integer.length > 12 || fraction.length > 3) fail('Decimal too long');
    } else if (integer.length > 15) {
      fail('Integer longer than 15 digits');
    }
    i += whole.length;
    return Number(whole);
  }

  function parseBareItem(): BareItem {
    const c = text[i] ?? '';
    if (c === '"') return parseString();
    if (c === '-' || (c >= '0' && c <= '9')) return parseNumber();
    if (c === '?') {
      const b = text[i + 1];
      if (b !== '0' && b !== '1') fail('a Boolean is ?0 or ?1');
      i += 2;
      return b === '1';
    }
    if (c === ':') {
      const end = text.indexOf(':', i + 1);
      if (end === -1) fail('unterminated Byte Sequence');
      const bytes = text.slice(i + 1, end);
      if (!/^[A-Za-z0-9+/]*={0,2}$/.test(bytes)) fail('a Byte Sequence is base64');
      i = end + 1;
      return { bytes };
    }
    if (/[A-Za-z*]/.test(c)) {
      const match = /^[A-Za-z*][!#$%&'*+\-.^_`|~0-9A-Za-z:/]*/.exec(text.slice(i)) as RegExpExecArray;
      i += match[0].length;
      return { token: match[0] };
    }
    return fail('expected an item');
  }

  function parseKey(): string {
    const match = /^[a-z*][a-z0-9_\-.*]*/.exec(text.slice(i));
    if (!match) return fail('expected a parameter key (lowercase)');
    i += match[0].length;
    return match[0];
  }

  function parseParams(): Record<string, BareItem> {
    const params: Record<string, BareItem> = {};
    while (text[i] === ';') {
      i++;
      skipSp();
      const key = parseKey();
      let value: BareItem = true;
      if (text[i] === '=') {
        i++;
        value = parseBareItem();
      }
      params[key] = value;
    }
    return params;
  }

  const items: SfItem[] = [];
  skipSp();
  if (i === text.length) return items;
  for (;;) {
    if (text[i] === '(') fail('inner lists are not expected here');
    const value = parseBareItem();
    items.push({ value, params: parseParams() });
    skipOws();
    if (i >= text.length) return items;
    if (text[i] !== ',') fail('expected "," between list members');
    i++;
    skipOws();
    if (i >= text.length) fail('trailing ","');
  }
}

// ── The two fields, parsed and checked ─────────────────────────────────────────────────

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

// ── The polite client's decision ───────────────────────────────────────────────────────

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
