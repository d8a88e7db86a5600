/**
 * @module
 * Small pure helpers shared by the visualizers' renderers: bars, padding, colours,
 * and the `key=value` line format that non-TTY output uses (and `parseLine` reads back).
 */

export const ANSI = {
  reset: '\x1b[0m',
  bold: '\x1b[1m',
  dim: '\x1b[2m',
  red: '\x1b[31m',
  green: '\x1b[32m',
  yellow: '\x1b[33m',
  blue: '\x1b[34m',
  magenta: '\x1b[35m',
  cyan: '\x1b[36m',
  /** Cursor home + clear screen: redraw in place. */
  home: '\x1b[H\x1b[J',
} as const;

export type Colour = Exclude<keyof typeof ANSI, 'reset' | 'home'>;

export function paint(text: string, colour: Colour, enabled: boolean): string {
  return enabled ? `${ANSI[colour]}${text}${ANSI.reset}` : text;
}

/** Percentage of `part` in `total` (0 when total is 0). */
export function percent(part: number, total: number): number {
  return total > 0 ? (part / total) * 100 : 0;
}

/** A bar `width` cells long at 100 %; rounds to the nearest cell, never negative. */
export function barLength(pct: number, width: number): number {
  return Math.max(0, Math.min(width, Math.round((pct / 100) * width)));
}

export function bar(pct: number, width: number, cell = '█'): string {
  return cell.repeat(barLength(pct, width));
}

/** Natural order: node-2 before node-10. */
export function byName(a: string, b: string): number {
  return a.localeCompare(b, 'en', { numeric: true });
}

export function ms(value: number): string {
  return value >= 100 ? `${value.toFixed(0)} ms` : `${value.toFixed(1)} ms`;
}

/** Formats `key=value` pairs; values with spaces are not produced (tokens are spaces-free). */
export function formatLine(fields: Record<string, string | number>): string {
  return Object.entries(fields)
    .map(([k, v]) => `${k}=${typeof v === 'number' ? String(Number(v.toFixed(2))) : v.replaceAll(' ', '_')}`)
    .join(' ');
}

/** Reads a `formatLine` line back (numbers as numbers). Tokens without `=` are ignored. */
export function parseLine(line: string): Record<string, string | number> {
  const out: Record<string, string | number> = {};
  for (const token of line.trim().split(/\s+/)) {
    const eq = token.indexOf('=');
    if (eq <= 0) continue;
    const key = token.slice(0, eq);
    const value = token.slice(eq + 1);
    out[key] = value !== '' && Number.isFinite(Number(value)) ? Number(value) : value;
  }
  return out;
}

/** A plain text table with right-aligned numeric columns. */
export function table(header: string[], rows: (string | number)[][]): string {
  const cells = [header, ...rows.map((r) => r.map(String))];
  const widths = header.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) =>
    r.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ');
  return [line(header), widths.map((w) => '─'.repeat(w)).join('  '), ...cells.slice(1).map(line)].join('\n');
}
