/**
 * @module
 * Part A's picture as pure functions: counts in, frame out.
 *
 * `lbRows` turns per-node counts (from `X-Upstream`) plus 429s and errors into bar rows
 * (nodes in natural name order, then 429s, then errors; percentages of everything sent);
 * `renderLbFrame` draws them for a terminal, `renderLbLine` as one parsable line for pipes
 * and CI, `renderLbSummary` as the final table.
 */
import { bar, byName, type Colour, formatLine, ms, paint, percent, table } from './format.js';

export interface NodeCount {
  /** The node as `X-Upstream` names it. */
  name: string;
  count: number;
  /** In flight at the balancer, when its metrics or `/admin/state` were readable. */
  inFlight?: number;
  /** Health as the balancer sees it. */
  up?: boolean;
}

export interface LbCounts {
  nodes: NodeCount[];
  /** 429 answers (the edge limiter, when the target is the limiter). */
  limited: number;
  /** No answer, 5xx, or another 4xx. */
  errors: number;
}

export interface BarRow {
  kind: 'node' | 'limited' | 'errors';
  label: string;
  count: number;
  /** Share of all answers, 0..100. */
  pct: number;
  /** Bar length in cells. */
  length: number;
  bar: string;
  inFlight?: number;
  up?: boolean;
}

export interface LbView {
  target: string;
  strategy?: string;
  /** Elapsed seconds and the run's duration. */
  elapsedS: number;
  durationS: number;
  windowS: number;
  /** Requested arrival rate (req/s). */
  rate: number;
}

/** Bar rows: nodes (natural order), then 429s, then errors. `width` cells = 100 %. */
export function lbRows(counts: LbCounts, width = 50): BarRow[] {
  const total = counts.nodes.reduce((sum, n) => sum + n.count, 0) + counts.limited + counts.errors;
  const row = (kind: BarRow['kind'], label: string, count: number): BarRow => {
    const pct = percent(count, total);
    const drawn = bar(pct, width);
    return { kind, label, count, pct, length: drawn.length, bar: drawn };
  };
  const nodes = [...counts.nodes]
    .sort((a, b) => byName(a.name, b.name))
    .map((n) => {
      const r = row('node', n.name, n.count);
      if (n.inFlight !== undefined) r.inFlight = n.inFlight;
      if (n.up !== undefined) r.up = n.up;
      return r;
    });
  return [...nodes, row('limited', '429s', counts.limited), row('errors', 'errors', counts.errors)];
}

const COLOURS: Record<BarRow['kind'], Colour> = { node: 'green', limited: 'red', errors: 'yellow' };

/** The terminal frame (no screen-clearing codes: the caller adds them). */
export function renderLbFrame(
  view: LbView,
  counts: LbCounts,
  options: { width?: number; color?: boolean } = {},
) {
  const { width = 50, color = false } = options;
  const rows = lbRows(counts, width);
  const total = rows.reduce((sum, r) => sum + r.count, 0);
  const label = Math.max(6, ...rows.map((r) => r.label.length));
  const title = `Load balancer: ${view.strategy ?? 'strategy unknown'}`;
  const lines = [
    paint(`=== ${title} ===`, 'bold', color),
    `target ${view.target} · ${view.rate} req/s · last ${view.windowS}s · ${view.elapsedS.toFixed(0)}/${view.durationS.toFixed(0)}s`,
    '',
  ];
  for (const r of rows) {
    const load =
      r.inFlight === undefined
        ? ''
        : `  in-flight ${String(r.inFlight).padStart(3)}${r.up === false ? ' DOWN' : ''}`;
    lines.push(
      `${r.label.padEnd(label)} │ ${String(r.count).padStart(5)} (${r.pct.toFixed(1).padStart(5)}%) │ ${paint(r.bar.padEnd(width), COLOURS[r.kind], color)}${load}`,
    );
  }
  lines.push('', `${total} answers in the window · Ctrl-C to stop`);
  return lines.join('\n');
}

/** One parsable line: `t=5 strategy=round-robin window_s=5 total=100 node-1=34 ... 429s=0 errors=0`. */
export function renderLbLine(view: LbView, counts: LbCounts): string {
  const rows = lbRows(counts);
  const fields: Record<string, string | number> = {
    t: Number(view.elapsedS.toFixed(1)),
    strategy: view.strategy ?? 'unknown',
    window_s: view.windowS,
    total: rows.reduce((sum, r) => sum + r.count, 0),
  };
  for (const r of rows) {
    if (r.kind === 'node') fields[r.label] = r.count;
  }
  fields['429s'] = counts.limited;
  fields.errors = counts.errors;
  return formatLine(fields);
}

export interface LbTotals extends LbCounts {
  p50: number;
  p95: number;
  dropped: number;
}

/** The final table over the whole run, and one `final ...` parsable line after it. */
export function renderLbSummary(view: LbView, totals: LbTotals): string {
  const rows = lbRows(totals, 30);
  const sent = rows.reduce((sum, r) => sum + r.count, 0);
  const body = table(
    ['', 'requests', 'share', ''],
    rows.map((r) => [r.label, r.count, `${r.pct.toFixed(1)}%`, r.bar.padEnd(30)]),
  );
  const final: Record<string, string | number> = {
    final: 'lb',
    strategy: view.strategy ?? 'unknown',
    seconds: Number(view.elapsedS.toFixed(1)),
    total: sent,
  };
  for (const r of rows) if (r.kind === 'node') final[r.label] = r.count;
  final['429s'] = totals.limited;
  final.errors = totals.errors;
  final.dropped = totals.dropped;
  final.p50_ms = Number(totals.p50.toFixed(1));
  final.p95_ms = Number(totals.p95.toFixed(1));
  return [
    `Summary: ${sent} answers in ${view.elapsedS.toFixed(1)}s through ${view.target} (${view.strategy ?? 'strategy unknown'})`,
    body,
    `latency p50 ${ms(totals.p50)} · p95 ${ms(totals.p95)}${totals.dropped ? ` · ${totals.dropped} arrivals dropped (too many in flight)` : ''}`,
    formatLine(final),
  ].join('\n');
}
