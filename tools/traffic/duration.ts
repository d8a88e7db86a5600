/**
 * @module
 * k6-style durations (`500ms`, `15s`, `2m`, `1h`, or a combination like `1m30s`) in milliseconds,
 * so the scenario file reads the same to k6 and to the Node tools.
 */

const UNITS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };

/**
 * Parses a duration; a bare number is seconds (as the CLIs' `--duration 10` reads naturally).
 * @throws Error naming the bad value.
 * @example parseDuration('1m30s') // 90_000
 */
export function parseDuration(text: string | number): number {
  if (typeof text === 'number') {
    if (!Number.isFinite(text) || text < 0) throw new Error(`invalid duration ${text}`);
    return text * 1_000;
  }
  const trimmed = text.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Number(trimmed) * 1_000;
  const parts = [...trimmed.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== trimmed) {
    throw new Error(`invalid duration "${text}" (use e.g. 500ms, 15s, 2m, 1m30s)`);
  }
  return parts.reduce((sum, [, value, unit]) => sum + Number(value) * (UNITS[unit as string] ?? 0), 0);
}
