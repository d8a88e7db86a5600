/**
 * @module
 * Which request targets a proxy may forward: origin-form paths in normal form only.
 *
 * A proxy and its upstream must route the same path. The proxies answer `/healthz`,
 * `/metrics` and `/admin/*` themselves and forward everything else, and a node parses
 * what it receives with the WHATWG URL parser and Hono, which resolve dot segments
 * (`/x/../admin`, `/%2e%2e/admin`), turn `\` into `/`, cut a `#fragment` and decode
 * percent-encoded letters (`/%61dmin`). Forwarded as they are, those targets reached a
 * node's `/admin` and `/metrics` through the edge. Rather than guess the upstream's
 * normalisation, a proxy refuses (400) any target that is not already normal:
 *
 * - not origin-form (`GET http://host/…`, `OPTIONS *`);
 * - a `#` anywhere (a fragment is never part of a request target);
 * - a `\` in the path;
 * - a `.` or `..` path segment;
 * - a percent-encoded unreserved character (`%2e`, `%61`, `%7E`, …): RFC 3986 §2.3 says
 *   producers never encode them, so only an evasion does.
 *
 * An encoded `/` (`/data/a%2Fb`) stays allowed: it is how a key with a slash travels,
 * and neither the URL parser nor Hono's router turns it into a separator.
 *
 * Cost: one pass over the target's characters, no allocation.
 */

const SLASH = 0x2f;
const DOT = 0x2e;
const QUESTION = 0x3f;
const HASH = 0x23;
const BACKSLASH = 0x5c;
const PERCENT = 0x25;

export const TARGET_PROBLEMS = {
  originForm: 'request target must be a path (origin-form)',
  fragment: 'request target must not contain "#"',
  backslash: 'request path must not contain "\\"',
  dotSegment: 'request path must not contain "." or ".." segments',
  encodedUnreserved: 'request path must not percent-encode letters, digits or "-._~"',
} as const;

/** The value of one hex digit, or -1. */
function hex(code: number): number {
  if (code >= 0x30 && code <= 0x39) return code - 0x30;
  const lower = code | 0x20;
  if (lower >= 0x61 && lower <= 0x66) return lower - 0x61 + 10;
  return -1;
}

/** RFC 3986 unreserved: ALPHA / DIGIT / "-" / "." / "_" / "~". */
function isUnreserved(code: number): boolean {
  const lower = code | 0x20;
  return (
    (lower >= 0x61 && lower <= 0x7a) ||
    (code >= 0x30 && code <= 0x39) ||
    code === 0x2d ||
    code === DOT ||
    code === 0x5f ||
    code === 0x7e
  );
}

/** A segment ends at `/`, `?` or the end of the target. */
function endsSegment(target: string, i: number): boolean {
  if (i >= target.length) return true;
  const code = target.charCodeAt(i);
  return code === SLASH || code === QUESTION;
}

/**
 * Why a proxy must not forward `target` (one of {@link TARGET_PROBLEMS}), or undefined
 * when it is an origin-form path in normal form.
 *
 * @example
 * requestTargetProblem('/data/k?x=1');      // undefined
 * requestTargetProblem('/x/../admin/config'); // 'request path must not contain "." or ".." segments'
 */
export function requestTargetProblem(target: string): string | undefined {
  if (target.charCodeAt(0) !== SLASH) return TARGET_PROBLEMS.originForm;
  let inPath = true;
  for (let i = 1; i < target.length; i++) {
    const code = target.charCodeAt(i);
    if (code === HASH) return TARGET_PROBLEMS.fragment;
    if (!inPath) continue;
    if (code === QUESTION) {
      inPath = false;
    } else if (code === BACKSLASH) {
      return TARGET_PROBLEMS.backslash;
    } else if (code === PERCENT) {
      const high = hex(target.charCodeAt(i + 1));
      const low = hex(target.charCodeAt(i + 2));
      if (high >= 0 && low >= 0 && isUnreserved(high * 16 + low)) return TARGET_PROBLEMS.encodedUnreserved;
    } else if (code === DOT && target.charCodeAt(i - 1) === SLASH) {
      if (endsSegment(target, i + 1)) return TARGET_PROBLEMS.dotSegment;
      if (target.charCodeAt(i + 1) === DOT && endsSegment(target, i + 2)) return TARGET_PROBLEMS.dotSegment;
    }
  }
  return undefined;
}
