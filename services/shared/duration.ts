/**
 * @module
 * Durations people can read, in one place for every service, tool and config file:
 * `500ms`, `2s`, `1m`, `1h`, `1d`, or a combination such as `1m30s` (k6's form), in
 * milliseconds.
 */

/**
 * The longest delay `setTimeout`/`setInterval` keep: beyond it Node.js warns and fires
 * after 1 ms, so a 30-day interval would become a busy loop. Configured timers stay below.
 */
export const MAX_TIMER_MS = 2_147_483_647;

const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const PART = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/g;

/**
 * @param value - a duration string, or a bare number
 * @param [bareUnitMs=1] - what a bare number counts: milliseconds in configuration
 *   (`SHUTDOWN_TIMEOUT_MS`-style), seconds (1000) on the CLIs, where `--duration 10` reads naturally
 * @returns whole or fractional milliseconds, never negative
 * @throws {Error} naming the value and the accepted forms
 * @example
 * parseDuration('1m30s') // 90_000
 * parseDuration('10', 1000) // 10_000
 */
export function parseDuration(value: number | string, bareUnitMs = 1): number {
  const text = typeof value === 'number' ? String(value) : value.trim();
  let ms: number;
  if (/^\d+(\.\d+)?$/.test(text)) ms = Number(text) * bareUnitMs;
  else {
    const parts = [...text.matchAll(PART)];
    if (parts.length === 0 || parts.map((part) => part[0]).join('') !== text) {
      throw new Error(`expected a duration such as 500ms, 2s, 1m or 1m30s; got "${value}"`);
    }
    ms = parts.reduce(
      (sum, [, amount, unit]) => sum + Number(amount) * (UNIT_MS[unit as string] as number),
      0,
    );
  }
  // 400 nines are digits too, and Number() makes them Infinity.
  if (!Number.isFinite(ms)) throw new Error(`duration too large; got "${value}"`);
  return ms;
}
