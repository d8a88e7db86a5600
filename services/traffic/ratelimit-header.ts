/**
 * @module
 * Remaining quota from a response's rate-limit headers: the IETF draft `RateLimit`
 * field (`"name";r=4;t=1`) first, the legacy `X-RateLimit-Remaining` otherwise.
 */

type HeaderValue = string | string[] | undefined;

function first(value: HeaderValue): string | undefined {
  return Array.isArray(value) ? value.join(', ') : value;
}

/**
 * The smallest `r` across the listed policies (the one that will bite first), or undefined.
 * @example remainingFrom({ ratelimit: '"default";r=4;t=1' }) // 4
 */
export function remainingFrom(headers: Record<string, HeaderValue>): number | undefined {
  const field = first(headers.ratelimit);
  if (field) {
    const values = [...field.matchAll(/;\s*r=(\d+)/g)].map((m) => Number(m[1]));
    if (values.length) return Math.min(...values);
  }
  const legacy = first(headers['x-ratelimit-remaining']);
  if (legacy && /^\d+$/.test(legacy.trim())) return Number(legacy.trim());
  return undefined;
}
